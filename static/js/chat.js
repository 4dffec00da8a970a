/* Conversations (the customer widget and the admin inquiry view): open/close,
   send with optimistic display and retry, live updates, polling fallback.
   Plain JS next to HTMX; the server renders every message (escaped) itself. */
(function () {
  "use strict";

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.content : "";
  }

  function newClientId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return x.toString(16).padStart(2, "0"); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function localizeTimes(root) {
    (root || document).querySelectorAll("time[data-local]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      var sameDay = d.toDateString() === new Date().toDateString();
      el.textContent = sameDay
        ? d.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
        : d.toLocaleString([], { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
      el.removeAttribute("data-local");
    });
  }

  function scrollToEnd(log) { if (log) log.scrollTop = log.scrollHeight; }

  function post(url, body) {
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "HX-Request": "true", "X-CSRFToken": csrfToken() }
    });
  }

  function fragment(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html.trim();
    return tpl.content.firstElementChild;
  }

  /* ---- open / close ---------------------------------------------------- */

  function panelOf(widget) { return widget.querySelector(".chat-panel"); }

  function openWidget(widget) {
    var panel = panelOf(widget);
    var launcher = widget.querySelector("[data-chat-open]");
    panel.hidden = false;
    launcher.setAttribute("aria-expanded", "true");
    widget.classList.add("open");
    loadPanel(widget).then(function () { onPanelShown(panel); });
  }

  function loadPanel(widget) {
    var panel = panelOf(widget);
    if (!panel.loading) {
      panel.loading = htmx.ajax("GET", widget.dataset.panelUrl, { target: panel, swap: "innerHTML" })
        .then(function () {
          var section = panel.querySelector(".chat-panel-inner");
          if (section) { localizeTimes(section); startLive(section); }
        });
    }
    return panel.loading;
  }

  function closeWidget(widget) {
    var panel = panelOf(widget);
    panel.hidden = true;
    widget.classList.remove("open");
    var launcher = widget.querySelector("[data-chat-open]");
    launcher.setAttribute("aria-expanded", "false");
    launcher.focus();
  }

  function onPanelShown(panel) {
    var section = panel.querySelector(".chat-panel-inner");
    if (!section) return;
    localizeTimes(section);
    scrollToEnd(section.querySelector(".chat-log"));
    var textarea = section.querySelector("textarea");
    if (textarea) textarea.focus();
    markRead(section);
  }

  function markRead(section) {
    if (document.hidden || !section || section.closest("[hidden]")) return;
    post(section.dataset.readUrl, new URLSearchParams()).then(function (r) {
      if (r.ok) document.querySelectorAll(".chat-badge").forEach(function (b) { b.hidden = true; b.textContent = "0"; });
    }).catch(function () { /* read marks are best effort; the badge stays */ });
  }

  /* ---- sending --------------------------------------------------------- */

  function showError(form, text) {
    var box = form.querySelector(".chat-error");
    box.innerHTML = "";
    if (!text) return;
    var p = document.createElement("p");
    p.className = "form-error"; p.setAttribute("role", "alert"); p.textContent = text;
    box.appendChild(p);
  }

  function pendingBubble(text, clientId) {
    var li = document.createElement("li");
    li.className = "msg own pending";
    li.dataset.clientId = clientId;
    li.dataset.text = text;
    var p = document.createElement("p");
    p.className = "text"; p.textContent = text;
    var meta = document.createElement("p");
    meta.className = "meta";
    meta.innerHTML = '<span class="mark mark-sending">Sending…</span>';
    li.appendChild(p); li.appendChild(meta);
    return li;
  }

  function markFailed(li) {
    li.classList.add("failed");
    var meta = li.querySelector(".meta");
    meta.innerHTML = '<span class="mark mark-failed" role="alert">Not sent</span> ' +
      '<button type="button" class="link-button" data-retry>Retry</button>';
  }

  function deliver(li, form) {
    var section = form.closest(".chat-panel-inner");
    var body = new URLSearchParams({ message_text: li.dataset.text, client_message_id: li.dataset.clientId });
    li.classList.remove("failed");
    li.querySelector(".meta").innerHTML = '<span class="mark mark-sending">Sending…</span>';
    post(section.dataset.sendUrl, body).then(function (r) {
      return r.text().then(function (html) {
        if (r.ok) {
          var stored = fragment(html);
          // A live event may have shown the stored message already.
          if (document.getElementById(stored.id)) li.remove(); else li.replaceWith(stored);
          localizeTimes(section);
          htmx.process(stored);
          applyKnown(stored);
        } else if (r.status === 422 || r.status === 413 || r.status === 404) {
          // Refused for what it says: give the text back to edit, say why.
          li.remove();
          var textarea = form.querySelector("textarea");
          if (!textarea.value) textarea.value = li.dataset.text;
          var err = fragment(html);
          showError(form, err ? err.textContent.trim() : "Your message could not be sent.");
          textarea.focus();
        } else {
          markFailed(li);
        }
      });
    }).catch(function () { markFailed(li); });
  }

  function send(form) {
    var textarea = form.querySelector("textarea");
    var text = textarea.value;
    var max = parseInt(textarea.getAttribute("maxlength") || "0", 10);
    if (!text.trim()) { showError(form, "Please type a message."); return; }
    if (max && text.length > max) { showError(form, "Messages can be at most " + max + " characters."); return; }
    showError(form, "");
    // The message itself ends "typing…"; no late signal after it.
    clearTimeout(typingTimer); typingTimer = null;
    var log = form.closest(".chat-panel-inner").querySelector(".chat-log");
    var li = pendingBubble(text, newClientId());
    log.appendChild(li);
    scrollToEnd(log);
    textarea.value = "";
    deliver(li, form);
  }

  /* ---- live: SSE through htmx's extension, polling as the fallback ------- */

  function sectionOf(el) { return el && el.closest(".chat-panel-inner"); }
  function isVisible(section) { return section && !section.closest("[hidden]") && !document.hidden; }

  function lastId(section) {
    var ids = Array.prototype.map.call(section.querySelectorAll(".chat-log li.msg[data-id]"),
      function (li) { return parseInt(li.dataset.id, 10) || 0; });
    return ids.length ? Math.max.apply(null, ids) : 0;
  }

  function rememberPosition(section) {
    // htmx's SSE extension makes a new EventSource from this attribute when it
    // reconnects (sending no Last-Event-ID), so keep after= at what we have.
    var url = section.getAttribute("sse-connect");
    if (url) section.setAttribute("sse-connect", url.replace(/after=\d*/, "after=" + lastId(section)));
  }

  function setBadge(count) {
    document.querySelectorAll(".chat-badge").forEach(function (b) {
      b.textContent = String(count);
      b.hidden = !count;
      b.setAttribute("aria-label", count + (count === 1 ? " unread answer" : " unread answers"));
    });
  }

  /* A message that arrived (stream or poll): drop duplicates, settle pending bubbles. */
  function acceptMessage(section, li) {
    if (document.getElementById(li.id)) return false;
    var pending = li.dataset.clientId && section.querySelector('li.pending[data-client-id="' + li.dataset.clientId + '"]');
    if (pending) { pending.replaceWith(li); return false; }
    return true;
  }

  function afterArrival(section, li) {
    localizeTimes(section);
    applyKnown(section);
    rememberPosition(section);
    scrollToEnd(section.querySelector(".chat-log"));
    if (li && li.classList.contains("theirs")) {
      clearTyping(section);
      if (isVisible(section)) markRead(section);
    }
  }

  // Marks can arrive before the message they mark (a POST answer still on its
  // way): remember the newest state per id and apply it when the message shows.
  var RANK = { sent: 0, delivered: 1, read: 2 };
  var knownStates = {};

  function applyKnown(root) {
    if (!root) return;
    var items = root.matches && root.matches("li.msg[data-id]") ? [root] : root.querySelectorAll("li.msg[data-id]");
    Array.prototype.forEach.call(items, function (li) {
      var state = knownStates[li.dataset.id];
      if (state) applyStatus({ ids: [li.dataset.id], state: state });
    });
  }

  function applyStatus(data) {
    data.ids.forEach(function (id) {
      var known = id in knownStates ? RANK[knownStates[id]] : -1;
      if (RANK[data.state] > known) knownStates[id] = data.state;
      var mark = document.getElementById("mark-" + id);
      if (!mark || RANK[mark.dataset.state] > RANK[data.state]) return;
      var label = data.state.charAt(0).toUpperCase() + data.state.slice(1);
      mark.className = "mark mark-" + data.state;
      mark.dataset.state = data.state;
      mark.title = label;
      mark.innerHTML = '<span aria-hidden="true">✓✓</span> <span class="mark-label">' + label + "</span>";
    });
  }

  var typingTimers = new WeakMap();
  function clearTyping(section) {
    var box = section.querySelector(".typing");
    if (box) box.innerHTML = "";
  }
  function armTyping(section) {
    var note = section.querySelector(".typing .typing-note:not([hidden])");
    clearTimeout(typingTimers.get(section));
    if (!note) return;
    // Typing is ephemeral: it fades by itself unless refreshed.
    typingTimers.set(section, setTimeout(function () { clearTyping(section); },
      parseFloat(note.dataset.ttl || "6") * 1000));
  }

  document.addEventListener("htmx:sseBeforeMessage", function (e) {
    var section = sectionOf(e.target);
    if (!section) return;
    var event = e.detail;
    if (event.type === "message") {
      var li = fragment(event.data);
      if (!li || !acceptMessage(section, li)) { e.preventDefault(); afterArrival(section, null); }
    } else if (event.type === "ready") {
      e.preventDefault();
      live(section).onReady();
    } else if (event.type === "status") {
      e.preventDefault();
      applyStatus(JSON.parse(event.data));
    } else if (event.type === "unread") {
      e.preventDefault();
      if (isVisible(section)) markRead(section); else setBadge(parseInt(event.data, 10) || 0);
    }
  });

  document.addEventListener("htmx:sseMessage", function (e) {
    var section = sectionOf(e.target);
    if (!section) return;
    if (e.detail.type === "message") {
      var log = section.querySelector(".chat-log");
      afterArrival(section, log.lastElementChild);
    } else if (e.detail.type === "typing") {
      armTyping(section);
    }
  });

  /* Per-panel connection state: watches the stream, polls when it cannot flow. */
  var lives = new WeakMap();
  function live(section) {
    var state = lives.get(section);
    if (state) return state;
    var pollMs = parseFloat(section.dataset.pollSeconds || "4") * 1000;
    var timer = null, watchdog = null, failures = 0;
    state = {
      polling: false,
      onReady: function () { failures = 0; clearTimeout(watchdog); state.stopPolling(); },
      onError: function () {
        failures += 1;
        if (failures >= 2) state.startPolling();
      },
      startWatchdog: function () {
        // No "ready" event soon after connecting: something buffers the stream.
        clearTimeout(watchdog);
        watchdog = setTimeout(function () { state.startPolling(); }, Math.max(8000, pollMs * 2));
      },
      startPolling: function () {
        if (state.polling) return;
        state.polling = true;
        section.classList.add("polling");
        var tick = function () {
          if (!document.body.contains(section)) return;
          poll(section).finally(function () { if (state.polling) timer = setTimeout(tick, pollMs); });
        };
        tick();
      },
      stopPolling: function () {
        state.polling = false;
        section.classList.remove("polling");
        clearTimeout(timer);
      }
    };
    lives.set(section, state);
    return state;
  }

  function shownMarks(section) {
    // Own messages not yet "read": the server answers only for marks that moved on.
    return Array.prototype.map.call(section.querySelectorAll(".chat-log .mark[id]:not(.mark-read)"),
      function (mark) { return mark.id.slice(5) + "." + mark.dataset.state; }).slice(-100).join(",");
  }

  function poll(section) {
    var url = section.dataset.messagesUrl + "?after=" + lastId(section) + "&marks=" + shownMarks(section);
    return fetch(url, { headers: { "HX-Request": "true" }, credentials: "same-origin" }).then(function (r) {
      if (r.status !== 200) return;  // 204: nothing new
      return r.text().then(function (html) {
        var tpl = document.createElement("template");
        tpl.innerHTML = html;
        var log = section.querySelector(".chat-log");
        var last = null;
        Array.prototype.forEach.call(tpl.content.querySelectorAll("li.msg[data-id]"), function (li) {
          if (acceptMessage(section, li)) { log.appendChild(li); last = li; }
        });
        Array.prototype.forEach.call(tpl.content.children, function (mark) {
          if (mark.matches(".mark[id]")) applyStatus({ ids: [mark.id.slice(5)], state: mark.dataset.state });
        });
        afterArrival(section, last);
        if (last && !isVisible(section)) refreshBadge(section);
      });
    }).catch(function () { /* offline: the next tick tries again */ });
  }

  function refreshBadge(section) {
    var widget = section.closest("[data-chat-widget]");
    if (!widget) return;
    fetch(widget.dataset.badgeUrl, { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (html) { var b = fragment(html); setBadge(b ? parseInt(b.textContent, 10) || 0 : 0); })
      .catch(function () {});
  }

  document.addEventListener("htmx:sseError", function (e) {
    var section = sectionOf(e.target);
    if (section) live(section).onError();
  });
  document.addEventListener("htmx:sseOpen", function (e) {
    var section = sectionOf(e.target);
    if (section) live(section).startWatchdog();
  });

  function startLive(section) {
    if (section.dataset.sse === "off") live(section).startPolling();
  }

  /* Tell the other side we are typing: at most once every few seconds, and
     once more at the end of a throttled burst so a quick reply still shows. */
  var TYPING_EVERY = 2500, lastTypingSent = 0, typingTimer = null;
  function signalTyping(section) {
    typingTimer = null;
    lastTypingSent = Date.now();
    post(section.dataset.typingUrl, new URLSearchParams()).catch(function () {});
  }
  document.addEventListener("input", function (e) {
    if (!e.target.matches("[data-chat-form] textarea") || !e.target.value.trim()) return;
    var section = sectionOf(e.target);
    var wait = TYPING_EVERY - (Date.now() - lastTypingSent);
    if (wait <= 0) signalTyping(section);
    else if (!typingTimer) typingTimer = setTimeout(function () { signalTyping(section); }, wait);
  });

  document.addEventListener("visibilitychange", function () {
    if (document.hidden) return;
    document.querySelectorAll(".chat-panel-inner").forEach(function (section) {
      if (isVisible(section)) markRead(section);
    });
  });

  /* ---- events ---------------------------------------------------------- */

  document.addEventListener("click", function (e) {
    var opener = e.target.closest("[data-chat-open]");
    if (opener) {
      var widget = opener.closest("[data-chat-widget]");
      if (panelOf(widget).hidden) openWidget(widget); else closeWidget(widget);
      return;
    }
    var closer = e.target.closest("[data-chat-close]");
    if (closer) {
      var w = closer.closest("[data-chat-widget]");
      if (w) closeWidget(w); else history.back();
      return;
    }
    var retry = e.target.closest("[data-retry]");
    if (retry) {
      var li = retry.closest("li.msg");
      deliver(li, li.closest(".chat-panel-inner").querySelector("[data-chat-form]"));
    }
  });

  document.addEventListener("submit", function (e) {
    var form = e.target.closest("[data-chat-form]");
    if (!form) return;
    e.preventDefault();
    send(form);
  });

  document.addEventListener("keydown", function (e) {
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && e.target.matches("[data-chat-form] textarea")) {
      e.preventDefault();
      send(e.target.form);
    } else if (e.key === "Escape") {
      var open = document.querySelector("[data-chat-widget].open");
      if (open) closeWidget(open);
    }
  });

  document.addEventListener("htmx:afterSwap", function (e) { localizeTimes(e.target); });
  document.addEventListener("DOMContentLoaded", function () {
    localizeTimes(document);
    // Conversations already on the page (the standalone chat page, the
    // admin's inquiry view) are open from the start.
    document.querySelectorAll(".chat-panel-inner").forEach(function (section) {
      onPanelShown(section.parentElement);
      startLive(section);
    });
    // A returning customer: connect at once (panel hidden) so the badge is live.
    document.querySelectorAll("[data-chat-widget][data-preload]").forEach(loadPanel);
    // ?chat=open (the link in an answer email) opens the chat.
    if (/[?&]chat=open\b/.test(location.search)) {
      document.querySelectorAll("[data-chat-widget]").forEach(openWidget);
    }
  });

  window.productChat = { markRead: markRead, scrollToEnd: scrollToEnd, localizeTimes: localizeTimes };
})();
