/* The panel as an app on this device: registers its service worker (templates/admin/sw.js:
   the app shell, the offline page, Web Push), "Notify this device" in the Notifications
   menu (subscribe through the browser's push service, and tell the server:
   POST /api/admin/push-subscriptions), and "Install" where the browser offers it. */
(function () {
  "use strict";
  var SETTINGS = "productchat:admin:notify";  // notify.js's per-device settings: {desktop, sound, text}
  var KEPT = "productchat:admin:push";        // {id, endpoint}: this device's subscription on the server
  var box = null, registration = null, installPrompt = null;

  function load(key) { try { return JSON.parse(localStorage.getItem(key)) || {}; } catch (e) { return {}; } }
  function save(key, value) { try { localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* private mode */ } }
  // Its words come from the page (templates/admin/_strings.html), in the panel's language.
  var words = null;
  function word(key, english) {
    if (!words) try { words = JSON.parse(document.body.dataset.adminStrings || "{}"); } catch (e) { words = {}; }
    return words[key] || english;
  }
  function say(text) { var out = box && box.querySelector("[data-push-status]"); if (out) out.textContent = text || ""; }
  function csrf() { var meta = document.querySelector('meta[name="csrf-token"]'); return meta ? meta.content : ""; }
  function keyBytes(base64url) {
    var text = atob(base64url.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((base64url.length + 3) % 4));
    var bytes = new Uint8Array(text.length);
    for (var i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    return bytes;
  }
  function onServer(kept) {
    // The ids the server keeps for this login (the page says): a session that ended took its own.
    var ids = (box.dataset.pushIds || "").split(" ");
    return kept.id && ids.indexOf(String(kept.id)) >= 0;
  }
  function draw(subscription) {
    var kept = load(KEPT), on = !!subscription && kept.endpoint === subscription.endpoint && onServer(kept);
    var button = box.querySelector("[data-push-toggle]");
    button.textContent = on ? word("pushOff", "Stop notifying this device") : word("pushOn", "Notify this device");
    button.dataset.on = on ? "1" : "";
    button.disabled = false;
    return on;
  }
  function tell(subscription) {
    var body = subscription.toJSON();
    body.show_text = !!load(SETTINGS).text;
    return fetch(box.dataset.pushUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) {
        if (response.status !== 201) throw new Error(data.error || word("pushRefused", "the server said no"));
        save(KEPT, { id: data.id, endpoint: subscription.endpoint });
        box.dataset.pushIds = ((box.dataset.pushIds || "") + " " + data.id).trim();
        return subscription;
      });
    });
  }
  function sameKey(subscription, bytes) {
    var key = subscription.options && subscription.options.applicationServerKey;
    if (!key) return false;
    var have = new Uint8Array(key);
    return have.length === bytes.length && have.every(function (byte, i) { return byte === bytes[i]; });
  }
  function subscribe() {
    var options = { userVisibleOnly: true, applicationServerKey: keyBytes(box.dataset.pushKey) };
    return registration.pushManager.getSubscription().then(function (old) {
      if (old && sameKey(old, options.applicationServerKey)) return old;  // the browser's own, still good
      // None yet, or made with another key (VAPID_PRIVATE_KEY changed): that one cannot be reused.
      return (old ? old.unsubscribe() : Promise.resolve()).then(function () {
        return registration.pushManager.subscribe(options);
      });
    });
  }
  function turnOn() {
    say(word("pushAsking", "Asking the browser…"));
    var asked = Notification.permission === "granted" ? Promise.resolve("granted") : Notification.requestPermission();
    return Promise.resolve(asked).then(function (permission) {
      if (permission !== "granted") throw new Error(word("pushNotAllowed", "notifications are not allowed for this site"));
      return subscribe();
    }).then(tell).then(function (subscription) {
      draw(subscription);
      say(word("pushDone", "This device is notified of new questions, also while the panel is closed."));
    });
  }
  function turnOff() {
    var kept = load(KEPT);
    var gone = kept.id ? fetch(box.dataset.pushUrl + "/" + kept.id, {
      method: "DELETE", credentials: "same-origin", headers: { "X-CSRFToken": csrf() }
    }) : Promise.resolve();
    return gone.then(function () { return registration.pushManager.getSubscription(); }).then(function (subscription) {
      save(KEPT, {});
      return subscription ? subscription.unsubscribe() : null;
    }).then(function () { draw(null); say(word("pushStopped", "This device is no longer notified.")); });
  }

  document.addEventListener("click", function (e) {
    var button = e.target.closest && e.target.closest("[data-push-toggle]");
    if (button && registration) {
      button.disabled = true;
      (button.dataset.on ? turnOff() : turnOn()).catch(function (error) {
        button.disabled = false;
        say(word("pushFailed", "This device could not be subscribed: %(reason)s.").replace("%(reason)s", error && error.message ? error.message : error));
      });
    }
    var install = e.target.closest && e.target.closest("[data-install]");
    if (install && installPrompt) {
      installPrompt.prompt();
      installPrompt.userChoice.then(function () { install.hidden = true; installPrompt = null; });
    }
  });
  document.addEventListener("change", function (e) {
    // "Show message text" is per device: the server words this device's pushes by it.
    if (!e.target.matches || !e.target.matches('[data-notify-setting="text"]') || !registration) return;
    registration.pushManager.getSubscription().then(function (subscription) {
      var kept = load(KEPT);
      if (subscription && kept.endpoint === subscription.endpoint && onServer(kept)) tell(subscription);
    });
  });
  document.addEventListener("submit", function (e) {
    // Logging out ends this device's subscription on the server; the browser's copy goes too.
    if (!registration || !/\/logout/.test(e.target.getAttribute("action") || "")) return;
    save(KEPT, {});
    registration.pushManager.getSubscription().then(function (s) { if (s) s.unsubscribe(); });
  });

  window.addEventListener("beforeinstallprompt", function (e) {
    e.preventDefault();
    installPrompt = e;
    var install = document.querySelector("[data-install]");
    if (install) install.hidden = false;
  });
  window.addEventListener("appinstalled", function () {
    var install = document.querySelector("[data-install]");
    if (install) install.hidden = true;
  });

  document.addEventListener("DOMContentLoaded", function () {
    box = document.querySelector("[data-push]");
    if (!box || !("serviceWorker" in navigator)) return;
    navigator.serviceWorker.register(box.dataset.swUrl, { scope: box.dataset.swScope }).then(function (found) {
      registration = found;
      if (!("PushManager" in window) || !("Notification" in window)) return;
      box.hidden = false;
      return registration.pushManager.getSubscription().then(function (subscription) {
        var kept = load(KEPT);
        if (subscription && kept.id && kept.endpoint !== subscription.endpoint) {
          // Turned on here, and the browser renewed the subscription since (its old endpoint
          // is gone): tell the server the new one, in this login, as the admin asked before.
          return tell(subscription).then(draw, function () { draw(subscription); });
        }
        draw(subscription);
      });
    }).catch(function () { /* no service worker (private mode, an old browser): the panel works as before */ });
  });
})();
