/* Admin panel: live list rows (insert, move, remove), the waiting count (header
   badge, tab title; notify.js draws it on the favicon), "waited for" times, the
   inquiry page's details folded on phones. The inquiry view's conversation is
   conversation.js; this file gives it the CSRF header. */
(function () {
  "use strict";
  var EV = JSON.parse(document.body.dataset.liveEvents || "{}");
  var csrf = document.querySelector('meta[name="csrf-token"]');
  if (window.chatConversation) {
    // The inquiry view's answers and read marks carry the CSRF token.
    window.chatConversation.headers = function () { return { "X-CSRFToken": csrf ? csrf.content : "" }; };
  }

  function fragment(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html.trim();
    return tpl.content.firstElementChild;
  }

  function setWaiting(count) {
    // The server counts up to one past what it shows: "99+".
    var most = parseInt(document.body.dataset.waitingShown, 10) || 99;
    var label = count > most ? most + "+" : String(count);
    var base = document.title.replace(/^\(\d+\+?\)\s*/, "");
    document.title = (count > 0 ? "(" + label + ") " : "") + base;
    var badge = document.getElementById("waiting-count");
    if (badge) { badge.dataset.count = String(count); badge.querySelector("b").textContent = label; }
    document.body.dataset.waiting = String(count);
    document.dispatchEvent(new CustomEvent("admin:waiting", { detail: count }));
  }

  function placeRow(tbody, row) {
    var old = document.getElementById(row.id);
    if (old) old.remove();
    // Rows are ordered by their queue key; keep the order of what is loaded.
    var rows = tbody.querySelectorAll("tr.inquiry-row");
    var more = tbody.querySelector("tr.more-row");
    for (var i = 0; i < rows.length; i++) {
      if (rows[i].dataset.key > row.dataset.key) { tbody.insertBefore(row, rows[i]); return; }
    }
    // Past the loaded page: "Load more" will bring it.
    if (more) return;
    tbody.appendChild(row);
  }

  // Its words come from the page, in the panel's language (<body data-admin-strings>).
  var words = null;
  function say(key, values) {
    if (!words) try { words = JSON.parse(document.body.dataset.adminStrings || "{}"); } catch (e) { words = {}; }
    return String(words[key] || key).replace(/%\((\w+)\)s/g, function (_, name) { return values[name]; });
  }
  function ago(root) {
    (root || document).querySelectorAll("time[data-ago]").forEach(function (el) {
      var minutes = Math.max(0, Math.round((Date.now() - new Date(el.getAttribute("datetime"))) / 60000));
      el.textContent = minutes < 1 ? say("justNow", {}) : minutes < 60 ? say("minutes", { num: minutes }) :
        minutes < 1440 ? say("hours", { h: Math.floor(minutes / 60), m: minutes % 60 })
          : say("days", { num: Math.floor(minutes / 1440) });
    });
  }

  /* The page gets each change of the inquiry's controls twice, in either order: its own
     POST's answer and its stream (for every change: its own and others'). Only a newer
     version is swapped in: a second copy, or a late one, would replace a select the
     admin may be using, or put back a value they have changed since. */
  function newerControls(html) {
    var shown = document.querySelector("#controls form[data-version]");
    var version = /data-version="(\d+)"/.exec(html);
    return !shown || !version || parseInt(version[1], 10) > parseInt(shown.getAttribute("data-version"), 10);
  }
  document.addEventListener("htmx:beforeSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "controls" && e.detail.xhr.status === 200 &&
        !newerControls(e.detail.serverResponse)) e.detail.shouldSwap = false;
  });

  document.addEventListener("htmx:sseBeforeMessage", function (e) {
    var type = e.detail.type;
    if (type === EV.waiting) { e.preventDefault(); setWaiting(parseInt(e.detail.data, 10) || 0); return; }
    if (type === EV.controls) {
      if (!newerControls(e.detail.data)) e.preventDefault();
      return;
    }
    if (type !== EV.row && type !== EV.remove) return;
    e.preventDefault();
    var tbody = document.getElementById("inquiry-rows");
    if (!tbody) return;
    if (type === EV.remove) {
      var gone = document.getElementById("inq-" + e.detail.data.trim());
      if (gone) gone.remove();
    } else {
      var row = fragment(e.detail.data);
      placeRow(tbody, row);
      htmx.process(row);
      ago(row);
      row.classList.add("flash-row");
      var empty = document.getElementById("no-inquiries");
      if (empty) empty.remove();
    }
  });

  /* Without a stream (blocked, or SSE turned off) the list refreshes itself every 10 s while
     the server answers; a refresh that gets no answer waits for the tab's probe (backoff.js). */
  var failures = 0, refreshTimer = null, link = chatBackoff.link;
  function refreshSoon() { clearTimeout(refreshTimer); refreshTimer = setTimeout(refresh, 10000); }
  function refresh() {
    clearTimeout(refreshTimer); refreshTimer = null;
    var rows = document.getElementById("inquiry-rows");
    if (!rows || failures < 2) return false;
    htmx.ajax("GET", location.pathname + location.search,
      { source: rows, target: rows, select: "#inquiry-rows > *", swap: "innerHTML" })
      .catch(function () { /* told by htmx:afterRequest below */ });
  }
  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail.elt !== document.getElementById("inquiry-rows") || failures < 2) return;
    var xhr = e.detail.xhr;
    if (xhr && xhr.status > 0 && xhr.status < 500) refreshSoon();
    else link.lost(refresh, chatBackoff.retryAfter(xhr));
  });
  document.addEventListener("htmx:sseError", function (e) {
    if (!e.target.matches("#admin-list")) return;
    failures += 1;
    if (failures === 2) refreshSoon();
  });
  document.addEventListener("htmx:sseOpen", function (e) {
    if (!e.target.matches("#admin-list")) return;
    failures = 0;
    clearTimeout(refreshTimer); refreshTimer = null;
  });

  document.addEventListener("htmx:afterSwap", function (e) { ago(e.target); });
  /* The inquiry page's product, controls and customer: open beside the
     conversation on wide screens, folded below it on phones. */
  var wide = window.matchMedia("(min-width: 641px)");
  function unfold() {
    document.querySelectorAll("[data-side-details]").forEach(function (d) { d.open = wide.matches; });
  }
  if (wide.addEventListener) wide.addEventListener("change", unfold);

  document.addEventListener("DOMContentLoaded", function () {
    ago(document);
    setInterval(function () { ago(document); }, 30000);
    unfold();
    if (document.body.dataset.waiting) setWaiting(parseInt(document.body.dataset.waiting, 10) || 0);
    // Opening an inquiry reads it: the customer's messages turn "read" on their side.
    if (window.chatConversation && document.querySelector("[data-conversation]")) window.chatConversation.markRead();
  });
})();
