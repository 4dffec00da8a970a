/* Admin notifications, chosen per device (localStorage): a short sound and a
   desktop notification when a customer writes ("customer wrote" events on the
   admin stream), never for the inquiry this admin has open and visible, in any
   tab. A notification names the product only, unless "Show message text" is
   on, so a locked screen shows no customer's words. The waiting count is
   drawn on the favicon. */
(function () {
  "use strict";
  var EV = JSON.parse(document.body.dataset.liveEvents || "{}");
  var SETTINGS = "productchat:admin:notify";  // {desktop, sound, text}: all off until chosen
  var VISIBLE = "productchat:admin:visible";  // {inquiry id: time}: inquiries open in a visible tab
  var LAST = "productchat:admin:alerted";     // the newest message id some tab alerted for
  var FRESH_MS = 30000;

  function load(key) { try { return JSON.parse(localStorage.getItem(key)) || {}; } catch (e) { return {}; } }
  function save(key, value) { try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode */ } }
  var settings = load(SETTINGS);
  var canNotify = "Notification" in window;

  /* ---- the settings menu --------------------------------------------------- */
  // Its words come from the page, in the panel's language (<details data-notify-menu data-strings>).
  var words = null;
  function t(key, product) {
    if (!words) {
      var menu = document.querySelector("[data-notify-menu]");
      try { words = JSON.parse((menu && menu.dataset.strings) || "{}"); } catch (e) { words = {}; }
    }
    return String(words[key] || key).replace("%(product)s", product || "");
  }
  function say(text) {
    var box = document.querySelector("[data-notify-status]");
    if (box) box.textContent = text || "";
  }
  function show() {
    document.querySelectorAll("[data-notify-setting]").forEach(function (box) {
      box.checked = !!settings[box.dataset.notifySetting];
    });
    var desktop = document.querySelector('[data-notify-setting="desktop"]');
    if (desktop && !canNotify) { desktop.disabled = true; say(t("cannot")); }
    else if (canNotify && settings.desktop && Notification.permission === "denied") {
      say(t("blocked"));
    }
  }
  function ask() {
    // Only from a click: browsers ignore (or remember as "no") a request nobody asked for.
    var answered = function (permission) {
      if (permission !== "granted") {
        settings.desktop = false;
        save(SETTINGS, settings);
        show();
        say(permission === "denied" ? t("blocked") : t("refused"));
      } else {
        say(t("on"));
      }
    };
    var asked = Notification.requestPermission(answered);
    if (asked && asked.then) asked.then(answered);
  }
  document.addEventListener("change", function (e) {
    var box = e.target.closest && e.target.closest("[data-notify-setting]");
    if (!box) return;
    var name = box.dataset.notifySetting;
    settings[name] = box.checked;
    save(SETTINGS, settings);
    say("");
    unlock();
    if (name === "desktop" && box.checked && canNotify && Notification.permission !== "granted") ask();
    if (name === "sound" && box.checked) beep("followup");
  });
  document.addEventListener("click", function (e) {
    if (!e.target.closest || !e.target.closest("[data-notify-test]")) return;
    if (settings.sound) beep("new");
    if (settings.desktop) notify({ inquiry_id: 0, product: t("aProduct"), preview: t("example"),
                                   url: location.pathname });
    if (!settings.sound && !settings.desktop) say(t("choose"));
  });

  /* ---- sound: two rising notes for a new question, one for a follow-up ----- */
  var audio = null;
  function unlock() {
    // Browsers let a page start audio only from a gesture: the first click or key makes the context.
    var Context = window.AudioContext || window.webkitAudioContext;
    if (!settings.sound || !Context) return;
    if (!audio) audio = new Context();
    if (audio.state === "suspended") audio.resume();
  }
  document.addEventListener("pointerdown", unlock, true);
  document.addEventListener("keydown", unlock, true);
  document.addEventListener("change", unlock, true);
  function beep(kind) {
    if (!audio) return;  // no gesture on this page yet: the desktop notification still shows
    (kind === "new" ? [660, 880] : [880]).forEach(function (hz, i) {
      var osc = audio.createOscillator(), gain = audio.createGain(), at = audio.currentTime + i * 0.18;
      osc.frequency.value = hz;
      gain.gain.setValueAtTime(0.0001, at);
      gain.gain.exponentialRampToValueAtTime(0.25, at + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, at + 0.16);
      osc.connect(gain);
      gain.connect(audio.destination);
      osc.start(at);
      osc.stop(at + 0.17);
    });
  }

  /* ---- what this admin is looking at ---------------------------------------- */
  function openHere() {
    var view = document.querySelector("[data-inquiry-id]");
    return view ? view.dataset.inquiryId : null;
  }
  function markVisible() {
    var id = openHere();
    if (!id) return;
    var seen = load(VISIBLE);
    if (document.hidden) delete seen[id]; else seen[id] = Date.now();
    save(VISIBLE, seen);
  }
  function beingRead(id) {
    id = String(id);
    if (id === openHere() && !document.hidden) return true;
    return Date.now() - (load(VISIBLE)[id] || 0) < FRESH_MS;  // open and visible in another tab
  }
  document.addEventListener("visibilitychange", markVisible);
  window.addEventListener("pagehide", function () {
    var id = openHere();
    if (!id) return;
    var seen = load(VISIBLE);
    delete seen[id];
    save(VISIBLE, seen);
  });
  setInterval(function () { if (!document.hidden) markVisible(); }, FRESH_MS / 3);

  /* ---- a customer wrote ------------------------------------------------------ */
  function firstToAlert(messageId) {
    // Every open admin tab hears the event: the first one alerts, the others stay quiet.
    var last = parseInt(localStorage.getItem(LAST) || "0", 10) || 0;
    if (messageId <= last) return false;
    try { localStorage.setItem(LAST, String(messageId)); } catch (e) { /* still alert here */ }
    return true;
  }
  function notify(note) {
    if (!canNotify || Notification.permission !== "granted") return;
    var options = { tag: "inquiry-" + note.inquiry_id, renotify: true };
    if (settings.text && note.preview) options.body = note.preview;
    try {
      var shown = new Notification(t("title", note.product), options);
      shown.onclick = function () { window.focus(); location.href = note.url; shown.close(); };
    } catch (e) {
      // Android's Chrome shows notifications only through a service worker.
      say(t("appsOnly"));
    }
  }
  function pushedHere() {
    // "Notify this device" is on (push.js): the push brings the notification, once, so the
    // page does not show a second one. The server's list says whether it still is.
    var kept = load("productchat:admin:push"), box = document.querySelector("[data-push]");
    return !!(kept.id && box && (box.dataset.pushIds || "").split(" ").indexOf(String(kept.id)) >= 0);
  }
  function customerWrote(data) {
    var note;
    try { note = JSON.parse(data); } catch (e) { return; }
    if (!settings.desktop && !settings.sound) return;
    if (beingRead(note.inquiry_id) || !firstToAlert(note.message_id)) return;
    if (settings.sound) beep(note.kind);
    if (settings.desktop && !pushedHere()) notify(note);
  }
  document.addEventListener("htmx:sseBeforeMessage", function (e) {
    if (e.detail.type !== EV.customer_wrote) return;
    e.preventDefault();
    customerWrote(e.detail.data);
  });

  /* ---- the waiting count on the favicon ------------------------------------- */
  var icon = document.querySelector('link[rel="icon"]'), plain = icon && icon.href, image = null, count = 0;
  function drawIcon() {
    if (!icon) return;
    if (!count) { icon.type = "image/svg+xml"; icon.href = plain; return; }
    if (!image) {
      image = new Image();
      image.onload = drawIcon;
      image.src = plain;
      return;
    }
    if (!image.complete) return;
    var canvas = document.createElement("canvas"), pen = canvas.getContext("2d"), text = count > 99 ? "99+" : String(count);
    canvas.width = canvas.height = 64;
    pen.drawImage(image, 0, 0, 64, 64);
    pen.fillStyle = "#b42318";
    pen.beginPath();
    pen.arc(42, 22, 22, 0, 2 * Math.PI);
    pen.fill();
    pen.fillStyle = "#fff";
    pen.font = "bold " + (text.length > 1 ? 22 : 30) + "px system-ui, sans-serif";
    pen.textAlign = "center";
    pen.textBaseline = "middle";
    pen.fillText(text, 42, 24);
    icon.type = "image/png";
    icon.href = canvas.toDataURL("image/png");
  }
  document.addEventListener("admin:waiting", function (e) { count = e.detail; drawIcon(); });

  document.addEventListener("DOMContentLoaded", function () {
    show();
    markVisible();
    count = parseInt(document.body.dataset.waiting || "0", 10) || 0;
    drawIcon();
  });
})();
