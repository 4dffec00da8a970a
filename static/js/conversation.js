/* One conversation on a page (the widget's iframe, the admin's inquiry view):
   what HTMX cannot do declaratively. Sending shows the message at once and
   queues it (same client id) until the server has it, in order, across
   network outages; live messages are de-duplicated; server-rendered marks
   are put in place; the stream falls back to polling and says "Reconnecting…"
   when the server cannot be reached. Every retry (the stream, polling, queued
   sends) goes through backoff.js: one timer per concern, backing off, one probe
   for the tab while the server is down. Page-specific headers come from
   chatConversation.headers (the shopper's token, or the admin's CSRF token). */
(function () {
  "use strict";
  var api = window.chatConversation = {
    headers: function () { return {}; },
    ready: Promise.resolve(),
    streamUrl: function (url) { return Promise.resolve(url); },
    afterResponse: function () {},
    onUnread: function () {},
    visible: function () { return !document.hidden; },
    // Files (attach.js): taken from the tray with the text, shown in the pending bubble,
    // sent with upload progress, given back to the tray with the reasons when refused.
    files: {
      take: function () { return []; },
      show: function () {},
      send: function (url, body) { return request(url, "POST", body); },
      giveBack: function () {}
    }
  };
  var EV = JSON.parse(document.body.dataset.liveEvents || "{}");
  var link = chatBackoff.link;
  var RANK = { sent: 0, delivered: 1, read: 2 };
  // A touch keyboard's Enter makes a new line. Browsers disagree on the media
  // queries (an emulated phone may report a fine pointer), so a page that knows
  // better (the widget, from how the launcher was tapped) can say so.
  var touch = !!window.matchMedia && (matchMedia("(pointer: coarse)").matches || matchMedia("(hover: none)").matches);
  api.touch = function (on) {
    touch = touch || !!on;
    document.documentElement.classList.toggle("touch", touch);
  };

  function section() { return document.querySelector("[data-conversation]"); }
  function log() { return document.getElementById("chat-log"); }
  function fragment(html) {
    var tpl = document.createElement("template");
    tpl.innerHTML = html.trim();
    return tpl.content.firstElementChild;
  }
  // Every answer from the server, fetched here or uploaded by attach.js.
  function answered(r) {
    api.afterResponse(r);
    if (r.status < 500) link.found();  // the server answered: whatever waited for it goes now
    return r;
  }
  function request(url, method, body) {
    var headers = Object.assign({ "HX-Request": "true" }, api.headers());
    return fetch(url, { method: method || "GET", body: body, headers: headers, credentials: "same-origin" })
      .then(answered);
  }
  api.request = request;
  api.answered = answered;

  /* What the page says comes from the page (<body data-chat-strings>, in its language). */
  var strings = null;
  function say(key, values) {
    if (!strings) try { strings = JSON.parse(document.body.dataset.chatStrings || "{}"); } catch (e) { strings = {}; }
    return String(strings[key] || key).replace(/%\((\w+)\)s/g, function (_, name) {
      return values && name in values ? values[name] : "";
    });
  }
  api.say = say;
  // Times in the page's language, as the reader's browser writes it (en-GB or en-US for "en").
  var PAGE = document.documentElement.lang || "";
  var LANG = [].concat(navigator.languages || navigator.language || [])
    .filter(function (tag) { return tag.split("-")[0].toLowerCase() === PAGE; })[0] || PAGE || undefined;

  function localizeTimes(root) {
    (root || document).querySelectorAll("time[data-local]").forEach(function (el) {
      var d = new Date(el.getAttribute("datetime"));
      if (isNaN(d)) return;
      el.textContent = d.toDateString() === new Date().toDateString()
        ? d.toLocaleTimeString(LANG, { hour: "2-digit", minute: "2-digit" })
        : d.toLocaleString(LANG, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit" });
      el.removeAttribute("data-local");
    });
  }
  function scrollToEnd() { var l = log(); if (l) l.scrollTop = l.scrollHeight; }
  /* The newest message stays in sight when the log shrinks (the private note, the suggestions,
     the files or the email form open below it, a phone's keyboard), unless the reader has
     scrolled up to older messages. */
  var pinned = true, watched = null;
  var sizes = window.ResizeObserver ? new ResizeObserver(function () { if (pinned) scrollToEnd(); }) : null;
  function watchLog() {
    var l = log();
    if (!sizes || !l || l === watched) return;
    if (watched) sizes.unobserve(watched);
    sizes.observe(l);
    watched = l;
  }
  document.addEventListener("scroll", function (e) {
    var l = e.target;
    if (l === log()) pinned = l.scrollHeight - l.scrollTop - l.clientHeight < 24;
  }, true);

  /* ---- sending: optimistic bubble, a queue in order, retries ----------- */
  var queue = [], sending = false, waiting = false;

  function uuid() {
    if (crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return [h.slice(0, 8), h.slice(8, 12), h.slice(12, 16), h.slice(16, 20), h.slice(20)].join("-");
  }
  function showError(text) {
    var box = document.getElementById("chat-error") || document.querySelector(".chat-error");
    box.textContent = "";
    if (!text) return;
    var p = document.createElement("p");
    p.className = "form-error"; p.setAttribute("role", "alert"); p.textContent = text;
    box.appendChild(p);
  }
  function setState(li, label, failed) {
    var meta = li.querySelector(".meta");
    meta.textContent = "";
    var mark = document.createElement("span");
    mark.className = "mark " + (failed ? "mark-failed" : "mark-sending");
    mark.textContent = label;
    meta.appendChild(mark);
    if (failed) {
      var retry = document.createElement("button");
      retry.type = "button"; retry.className = "link-button"; retry.textContent = say("retry");
      retry.setAttribute("data-retry", "");
      meta.append(" ", retry);
    }
    li.classList.toggle("failed", !!failed);
  }
  function pendingBubble(text, files) {
    var li = document.createElement("li");
    li.className = "msg own pending";
    li.dataset.clientId = uuid();
    li.dataset.text = text;
    li.files = files;
    var p = document.createElement("p");
    p.className = "text"; p.textContent = text; p.dir = "auto";
    p.hidden = !text && files.length > 0;
    var meta = document.createElement("p");
    meta.className = "meta";
    li.append(p, meta);
    api.files.show(li);
    setState(li, say("sending"));
    return li;
  }
  function send(form) {
    var box = form.querySelector("textarea"), text = box.value;
    var max = parseInt(box.getAttribute("maxlength") || "0", 10);
    var files = api.files.take(form);
    if (files === null) return;  // a file in the tray cannot be sent (the tray says why)
    if (!text.trim() && !files.length) { showError(say("empty")); return; }
    if (max && text.length > max) { api.files.giveBack({ files: files }); showError(say("tooLong", { max: max })); return; }
    showError("");
    var li = pendingBubble(text.trim() ? text : "", files);
    log().appendChild(li);
    scrollToEnd();
    box.value = "";
    // Things keyed to what is typed (the widget's suggestions) start over; not "input": that signals typing.
    box.dispatchEvent(new CustomEvent("chat:cleared", { bubbles: true }));
    queue.push(li);
    if (waiting) setState(li, say("waiting"));
    link.when(flush);  // while the server is down it goes with the others, in order, when it answers
  }
  // Returns false when there is nothing to send (backoff.js then probes with another waiting try).
  function flush() {
    if (sending || !queue.length) return false;
    var li = queue[0], form = document.querySelector("[data-chat-form]");
    sending = true;
    setState(li, say("sending"));
    // The page may not know who is writing yet (the widget waits for the loader's token).
    api.ready.then(function () {
      var body = li.files && li.files.length ? new FormData(form) : new URLSearchParams(new FormData(form));
      body.set("message_text", li.dataset.text);
      body.set("client_message_id", li.dataset.clientId);
      return api.files.send(section().dataset.sendUrl, body, li);
    }).then(function (r) {
      return r.text().then(function (html) {
        sending = false;
        if (r.ok) {
          queue.shift(); waiting = false;
          settle(li, html, r);
        } else if (r.status >= 500 || r.status === 408) {
          return later(chatBackoff.retryAfter(r));  // the server is back but not ready (503): keep it, try again
        } else {
          // Refused for what it says (too long, limited, gone): give the text back, say why.
          queue.shift();
          var reason = fragment(html);
          showError(reason ? (reason.querySelector("p") || reason).textContent.trim() : say("failed"));
          if (r.status === 429 && !(li.files && li.files.length)) { setState(li, say("notSent"), true); } else {
            li.remove();
            var box = form.querySelector("textarea");
            if (!box.value) box.value = li.dataset.text;
            api.files.giveBack(li, reason);
          }
        }
        flush();
      });
    }).catch(function () { sending = false; later(0); });
  }
  function later(atLeast) {
    waiting = true;
    queue.forEach(function (li) { setState(li, say("waiting")); });
    link.lost(flush, atLeast);
  }
  function settle(li, html, response) {
    var stored = fragment(html);
    if (!stored) { li.remove(); return; }
    if (!li.isConnected && log()) log().appendChild(li);  // the log was reloaded while it was on its way
    if (document.getElementById(stored.id) || !li.isConnected) {
      li.remove();
      htmx.swap(document.body, html, { swapStyle: "none", swapDelay: 0, settleDelay: 0 });  // out-of-band parts only
    } else {
      htmx.swap(li, html, { swapStyle: "outerHTML", swapDelay: 0, settleDelay: 0 });
    }
    arrived(document.getElementById(stored.id));
    api.sent && api.sent(response);
  }

  /* ---- arrivals: de-duplicate, settle pending bubbles, place marks ------ */
  var lateMarks = {};

  function accept(li) {
    if (!li || !li.id || document.getElementById(li.id)) return false;
    var pending = li.dataset.clientId && document.querySelector('li.pending[data-client-id="' + li.dataset.clientId + '"]');
    if (!pending) return true;
    var i = queue.indexOf(pending);
    if (i > 0) return true;  // cannot be: it was never sent
    pending.replaceWith(li);
    htmx.process(li);
    arrived(li);
    return false;
  }
  function placeMarks() {
    var inbox = document.getElementById("marks-inbox");
    if (inbox) Array.prototype.slice.call(inbox.children).forEach(function (m) { lateMarks[m.id] = m; m.remove(); });
    Object.keys(lateMarks).forEach(function (id) {
      var mark = lateMarks[id], old = document.getElementById(id);
      if (!old) return;  // its message shows later (a send still on its way)
      if (RANK[old.dataset.state] <= RANK[mark.dataset.state]) old.replaceWith(mark);
      delete lateMarks[id];
    });
  }
  function arrived(li) {
    var s = section();
    if (!s) return;
    localizeTimes(s);
    placeMarks();
    scrollToEnd();
    if (li && li.classList.contains("theirs")) {
      var typing = document.getElementById("typing");
      if (typing) typing.textContent = "";
      markRead();
    }
  }
  function markRead() {
    var s = section();
    if (!s || !s.dataset.readUrl || !api.visible()) return;
    if (!document.querySelector("#chat-log li.theirs:not(.welcome)")) return;
    request(s.dataset.readUrl, "POST").then(function (r) {
      if (r.ok && (r.headers.get("Content-Type") || "").indexOf("json") >= 0) {
        r.json().then(function (body) { api.onUnread(body.unread); });
      }
    }).catch(function () { /* best effort: the badge stays */ });
  }
  api.markRead = markRead;
  api.arrived = arrived;

  document.addEventListener("htmx:sseBeforeMessage", function (e) {
    var type = e.detail.type;
    if (type === EV.message) {
      if (!accept(fragment(e.detail.data))) e.preventDefault();
    } else if (type === EV.ready) {
      e.preventDefault(); connection.ready();
    } else if (type === EV.unread) {
      e.preventDefault(); api.onUnread(parseInt(e.detail.data, 10) || 0);
    }
  });
  document.addEventListener("htmx:sseMessage", function (e) {
    if (e.detail.type === EV.message) arrived(log() && log().lastElementChild);
    else if (e.detail.type === EV.marks) placeMarks();
    else if (e.detail.type === EV.typing) armTyping();
  });
  // Polling answers arrive out of band: drop what is already shown.
  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    if (!e.detail.target || e.detail.target.id !== "chat-log") return;
    Array.prototype.slice.call(e.detail.fragment.children || []).forEach(function (li) {
      if (!accept(li)) li.remove();
    });
  });
  document.addEventListener("htmx:oobAfterSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "chat-log") arrived(log().lastElementChild);
    if (e.detail.target && e.detail.target.id === "marks-inbox") placeMarks();
  });

  var typingTimer = null;
  function armTyping() {
    var note = document.querySelector("#typing .typing-note:not([hidden])");
    clearTimeout(typingTimer);
    if (note) typingTimer = setTimeout(function () { document.getElementById("typing").textContent = ""; },
      parseFloat(note.dataset.ttl || "6") * 1000);
  }

  /* ---- the stream: an EventSource for htmx's SSE extension ---------------
     Every (re)connection asks the page for its URL (the widget adds a fresh
     ticket) and resumes after the last message shown. The source reconnects by
     itself, on its own backoff schedule (reset by the stream's "ready"), and
     while the server is down it waits for the tab's probe; so it reports
     itself "connecting", never closed, and the extension starts no second
     reconnection of its own. Errors reach the extension without an Event
     object, which it would log as "[object Event]". */
  function lastShown() {
    var ids = Array.prototype.map.call(document.querySelectorAll("#chat-log li.msg[data-id]"),
      function (li) { return parseInt(li.dataset.id, 10) || 0; });
    return ids.length ? Math.max.apply(null, ids) : 0;
  }
  function Source(url) {
    var self = this, source = null, closed = false, handlers = [];
    var retry = new chatBackoff.Retry(connect);
    self.readyState = 0;
    self.addEventListener = function (type, fn) {
      handlers.push([type, fn]);
      if (source) source.addEventListener(type, fn);
    };
    self.removeEventListener = function (type, fn) {
      handlers = handlers.filter(function (h) { return h[1] !== fn; });
      if (source) source.removeEventListener(type, fn);
    };
    self.close = function () { closed = true; self.readyState = 2; retry.cancel(); if (source) source.close(); };
    function failed(serverAnswered, atLeast) {
      if (source) { source.close(); source = null; }
      if (closed) return;
      self.readyState = 0;
      // Known down (or no ticket for want of a server): wait for the tab's probe; else our own schedule.
      if (link.down || !serverAnswered) link.lost(connect, atLeast); else retry.fail();
      if (self.onerror) self.onerror();
    }
    function connect() {
      if (closed) return false;
      // Resume after what the page shows: a new EventSource sends no Last-Event-ID.
      api.streamUrl(url.replace(/([?&]after=)\d*/, "$1" + lastShown())).then(function (target) {
        if (closed) return;
        source = new EventSource(target, { withCredentials: true });
        handlers.forEach(function (h) { source.addEventListener(h[0], h[1]); });
        source.addEventListener(EV.ready, function () { retry.ok(); link.found(); });
        source.onopen = function (e) { self.readyState = 1; if (self.onopen) self.onopen(e); };
        source.onerror = function () { failed(true); };
      }).catch(function (error) {
        // No ticket: a 4xx is this client's problem (its own schedule), anything else the server's.
        var status = error && error.status;
        failed(status > 0 && status < 500, error && error.retryAfter);
      });
    }
    connect();
  }
  htmx.createEventSource = function (url) { return new Source(url); };

  /* ---- the connection: stream, polling fallback, "Reconnecting…" -------- */
  var connection = (function () {
    var failures = 0, watchdog = null, pollTimer = null;
    function liveBox() { return document.querySelector(".live"); }
    function poller() { return document.querySelector("[data-poller]"); }
    function poll(on) {
      var box = liveBox(), p = poller();
      document.documentElement.classList.toggle("polling", on);
      if (!on || !box) { if (p) p.remove(); clearTimeout(pollTimer); pollTimer = null; return; }
      if (p) return;
      p = document.createElement("div");
      p.hidden = true;
      p.setAttribute("data-poller", "");
      p.setAttribute("hx-get", box.dataset.pollUrl);
      p.setAttribute("hx-include", "#cursor");
      p.setAttribute("hx-trigger", "chat:poll");
      p.setAttribute("hx-swap", "none");
      box.appendChild(p);
      htmx.process(p);
      pollNext();
    }
    // One poll timer; the next poll is set when the last one has answered.
    function pollNext() {
      var box = liveBox();
      clearTimeout(pollTimer);
      pollTimer = setTimeout(pollNow, parseFloat((box && box.dataset.pollSeconds) || "4") * 1000);
    }
    function pollNow() {
      clearTimeout(pollTimer); pollTimer = null;
      var p = poller();
      if (!p) return false;
      htmx.trigger(p, "chat:poll");
    }
    return {
      opened: function () {
        clearTimeout(watchdog);
        // No "ready" soon after connecting: something buffers the stream.
        watchdog = setTimeout(function () { poll(true); }, 8000);
      },
      ready: function () { failures = 0; clearTimeout(watchdog); poll(false); flush(); },
      // Poll only while the server answers: with the server down the stream's retry is the tab's probe.
      failed: function () { failures += 1; if (failures >= 2 && !link.down) poll(true); },
      polled: function (xhr) {
        if (xhr.status > 0 && xhr.status < 500) pollNext();
        else link.lost(pollNow, chatBackoff.retryAfter(xhr));
      },
      poll: poll
    };
  })();
  api.connection = connection;

  link.watch(function (down) {
    var banner = document.querySelector("[data-offline]");
    if (banner) banner.hidden = !down;
  });

  document.addEventListener("htmx:sseOpen", function () { connection.opened(); });
  document.addEventListener("htmx:sseError", function () { connection.failed(); });
  document.addEventListener("htmx:afterRequest", function (e) {
    var xhr = e.detail.xhr;
    if (xhr && xhr.status > 0 && xhr.status < 500) link.found();
    if (xhr && e.target.matches && e.target.matches("[data-poller]")) connection.polled(xhr);
  });

  /* ---- events ---------------------------------------------------------- */
  document.addEventListener("submit", function (e) {
    var form = e.target.closest("[data-chat-form]");
    if (!form) return;
    e.preventDefault();
    send(form);
  });
  document.addEventListener("keydown", function (e) {
    // On a touch keyboard Enter is a new line; the Send button sends.
    if (e.key === "Enter" && !e.shiftKey && !e.isComposing && !touch && e.target.matches("[data-chat-form] textarea")) {
      e.preventDefault();
      send(e.target.form);
    }
  });
  document.addEventListener("click", function (e) {
    var retry = e.target.closest("[data-retry]");
    if (!retry) return;
    var li = retry.closest("li.msg");
    if (queue.indexOf(li) < 0) queue.push(li);
    flush();
  });
  // A reloaded log (the widget's first conversation load) may have been rendered before a
  // message that was on its way was stored: it keeps what the page showed newer than itself,
  // and the messages still on their way.
  var shownBefore = [];
  document.addEventListener("htmx:beforeSwap", function (e) {
    var target = e.detail.target;
    shownBefore = target && target.querySelector && target.querySelector("#chat-log")
      ? Array.prototype.slice.call(target.querySelectorAll("#chat-log li.msg[data-id]")) : [];
  });
  document.addEventListener("htmx:afterSwap", function (e) {
    if (log() && shownBefore.length) {
      var newest = lastShown();
      shownBefore.forEach(function (li) {
        if ((parseInt(li.dataset.id, 10) || 0) > newest && !document.getElementById(li.id)) log().appendChild(li);
      });
    }
    shownBefore = [];
    if (log()) queue.forEach(function (li) {
      if (!li.isConnected && !log().querySelector('li[data-client-id="' + li.dataset.clientId + '"]')) log().appendChild(li);
    });
    localizeTimes(e.target); placeMarks(); watchLog();
  });
  document.addEventListener("visibilitychange", function () { if (!document.hidden) markRead(); });
  document.addEventListener("DOMContentLoaded", function () {
    localizeTimes(document);
    scrollToEnd();
    watchLog();
    markRead();  // a conversation open on the page (the admin's inquiry view) is read
    api.touch(touch);
  });
})();
