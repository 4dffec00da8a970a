/* The chat page inside the widget's iframe. It talks to the loader on the shop's
   page by postMessage, with exact origins both ways (messages from any other
   window or origin are ignored); it holds the shopper's token in memory (the
   loader keeps it in the host page's own storage) and sends it as the
   X-Chat-Session header; the stream opens with single-use tickets, since an
   EventSource cannot send headers and tokens never go into URLs.
   Protocol v1: every message is {pc: 1, type, ...}. Loader -> here: hello
   {token, page: {url, title}, customer, resume, open, touch}, open {touch}, close. Here ->
   loader: ready, session {token}, conversation, unread {count}, close.
   Who the shopper is, in order: the shop's signed customer (identify, with the token the
   page kept), then a resume link (asking first where it would replace a chat). */
(function () {
  "use strict";
  var conv = window.chatConversation, body = document.body;
  var EV = JSON.parse(body.dataset.liveEvents || "{}");
  var allowed = JSON.parse(body.dataset.parentOrigins || "[]");
  var framed = window.parent !== window;
  var parentOrigin = framed ? null : location.origin;
  var KEY = "productchat:" + location.pathname.split("/")[2];  // opened directly: our own storage
  var token = "", open = !framed, started = false, hasConversation = false, whoKnown;
  // Nothing is sent before the loader has said who the shopper is (or a first
  // message would start a new session beside their stored one).
  conv.ready = new Promise(function (resolve) { whoKnown = resolve; });

  function tell(message) {
    if (!framed || !parentOrigin) return;
    message.pc = 1;
    window.parent.postMessage(message, parentOrigin);
  }
  function keep(newToken) {
    if (!newToken || newToken === token) return;
    token = newToken;
    if (framed) tell({ type: "session", token: token });
    else try { localStorage.setItem(KEY, token); } catch (e) { /* private mode: this visit only */ }
  }

  // The page's language (negotiated when it was served) goes with every request it makes.
  var LOCALE = document.documentElement.lang || "";
  conv.headers = function () { return { "X-Chat-Session": token, "X-Chat-Locale": LOCALE }; };
  conv.afterResponse = function (r) { keep(r.headers.get("X-Chat-Session")); };
  conv.visible = function () { return open && !document.hidden; };
  conv.onUnread = function (count) {
    tell({ type: "unread", count: count });
    var toggle = document.querySelector(".questions-toggle");
    if (toggle) toggle.dataset.unread = count || "";
  };
  conv.sent = function () {
    if (hasConversation) return;
    hasConversation = true;
    tell({ type: "conversation" });
    showQuestionsToggle();
    // The first message made the session: load the conversation and its stream.
    if (!document.querySelector(".live[sse-connect], .live[data-sse=off]")) htmx.trigger(body, "chat:session");
  };

  document.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-Chat-Session"] = token;
    e.detail.headers["X-Chat-Locale"] = LOCALE;
  });
  document.addEventListener("htmx:afterRequest", function (e) {
    if (e.detail.xhr) keep(e.detail.xhr.getResponseHeader("X-Chat-Session"));
  });
  body.addEventListener("chat:unread", function (e) { conv.onUnread(e.detail.value); });
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.target.id !== "conversation") return;
    if (document.querySelector("#chat-log li.msg[data-id]")) { hasConversation = true; showQuestionsToggle(); }
    if (document.querySelector(".live[data-sse=off]")) conv.connection.poll(true);
    conv.arrived(null);
    conv.markRead();
  });

  /* The stream opens with a fresh single-use ticket for every (re)connection. */
  conv.streamUrl = function (url) {
    return conv.request(body.dataset.ticketUrl, "POST").then(function (r) {
      if (!r.ok) {
        // The stream's retry tells the server's trouble (5xx: back off for the whole tab) from ours.
        var error = new Error("no ticket (" + r.status + ")");
        error.status = r.status;
        error.retryAfter = chatBackoff.retryAfter(r);
        throw error;
      }
      return r.json();
    }).then(function (ticket) { return url + "&ticket=" + encodeURIComponent(ticket.ticket); });
  };

  /* ---- the loader's messages --------------------------------------------- */
  function post(url, data) {
    var headers = { "Content-Type": "application/json", "X-Chat-Session": token, "X-Chat-Locale": LOCALE };
    return fetch(url, { method: "POST", headers: headers, body: JSON.stringify(data) })
      .then(function (r) { conv.afterResponse(r); return r; });
  }
  function start(hello) {
    if (started) return;
    started = true;
    token = hello.token || "";
    open = !!hello.open;
    conv.touch(hello.touch);
    var page = hello.page || {};
    document.querySelectorAll("[data-page-field]").forEach(function (input) {
      input.value = String(page[input.dataset.pageField] || "").slice(0, 500);
    });
    var heading = document.querySelector("[data-page-title]");
    if (heading && heading.dataset.known !== "1" && page.title) heading.textContent = String(page.title).slice(0, 200);
    tell({ type: "ready" });
    var steps = Promise.resolve();
    // The shop's logged-in customer first, with the token this page kept: a resume link's
    // session never becomes part of a verified customer's history.
    if (hello.customer) steps = steps.then(function () { return post(body.dataset.identifyUrl, hello.customer); });
    if (hello.resume) steps = steps.then(function () { return resume(hello.resume, false); });
    steps.catch(function () { /* anonymous chat still works */ }).then(function () {
      whoKnown();
      if (token) htmx.trigger(body, "chat:session");
      if (open) focusBox();
    });
  }
  function focusBox() { var box = document.querySelector("[data-chat-form] textarea"); if (box) box.focus(); }
  // The loader focuses this frame once it is shown (first open included): the box takes it.
  window.addEventListener("focus", function () { if (open && document.activeElement === body) focusBox(); });

  /* An answer mail's link. Where this browser has a chat of its own the server answers 409:
     the shopper chooses, in plain words, and nothing is replaced unless they pick the link. */
  function resume(link, replace) {
    return post(body.dataset.resumeUrl, { token: link, replace: replace }).then(function (r) {
      if (r.status === 409) return ask().then(function (yes) { return yes ? resume(link, true) : null; });
      if (!r.ok) return r.json().then(function (answer) { note(answer.error); }, function () {});
      return null;
    });
  }
  function ask() {
    var box = document.querySelector("[data-resume-choice]");
    box.hidden = false;
    box.querySelector("[data-resume-answer=open]").focus();
    return new Promise(function (answer) {
      box.addEventListener("click", function chosen(e) {
        var button = e.target.closest("[data-resume-answer]");
        if (!button) return;
        box.removeEventListener("click", chosen);
        box.hidden = true;
        answer(button.dataset.resumeAnswer === "open");
      });
    });
  }
  function note(text) {
    var line = document.querySelector("[data-resume-note]");
    if (!text || !line) return;
    line.textContent = text;
    line.hidden = false;
  }

  window.addEventListener("message", function (e) {
    if (!framed || e.source !== window.parent || allowed.indexOf(e.origin) < 0) return;
    if (parentOrigin && e.origin !== parentOrigin) return;
    var m = e.data;
    if (!m || m.pc !== 1) return;
    if (m.type === "hello") { parentOrigin = e.origin; start(m); }
    else if (m.type === "open") { open = true; conv.touch(m.touch); focusBox(); conv.markRead(); }
    else if (m.type === "close") { open = false; }
  });

  /* Away, the email offer opens by itself with a mouse; on a phone (touch) it stays one line
     with a button, the form would cover much of the screen above the keyboard. */
  document.addEventListener("htmx:load", function (e) {
    var room = !document.documentElement.classList.contains("touch");
    var all = e.detail.elt.querySelectorAll ? e.detail.elt.querySelectorAll("details[data-open-with-mouse]") : [];
    Array.prototype.forEach.call(all, function (details) {
      if (room) details.open = true;
      details.removeAttribute("data-open-with-mouse");
    });
  });

  /* The conversation's reload (after the first message, on a new session) redraws the email
     offer too. On a slow network it lands while the shopper is already in that form: an offer
     they opened stays as it is, with what they typed, while the new one offers the same. */
  document.addEventListener("htmx:oobBeforeSwap", function (e) {
    var target = e.detail.target, fragment = e.detail.fragment;
    if (!target || target.id !== "chat-email" || !fragment || !fragment.querySelector) return;
    var shown = target.querySelector("details");
    if (shown && shown.open && fragment.querySelector("details")) e.detail.shouldSwap = false;
  });

  /* ---- "Your questions", closing ------------------------------------------ */
  function showQuestionsToggle() {
    var toggle = document.querySelector(".questions-toggle");
    if (toggle) toggle.hidden = false;
  }
  document.addEventListener("click", function (e) {
    if (e.target.closest("[data-chat-close]")) {
      if (framed) tell({ type: "close" }); else history.back();
      return;
    }
    if (e.target.closest("[data-questions-toggle]")) {
      var list = document.getElementById("your-questions");
      var toggle = document.querySelector(".questions-toggle");
      list.hidden = !list.hidden;
      toggle.setAttribute("aria-expanded", String(!list.hidden));
      if (!list.hidden) htmx.trigger(body, "chat:questions");
    }
  });
  document.addEventListener("keydown", function (e) { if (e.key === "Escape" && framed) tell({ type: "close" }); });

  document.addEventListener("DOMContentLoaded", function () {
    if (!framed) {
      var stored = "";
      try { stored = localStorage.getItem(KEY) || ""; } catch (e) { /* no storage */ }
      var resume = (location.hash.match(/productchat-resume=([^&]+)/) || [])[1];
      if (resume) history.replaceState(null, "", location.pathname + location.search);
      start({ token: stored, open: true, resume: resume ? decodeURIComponent(resume) : "",
              page: { url: location.href, title: document.title } });
    }
  });
})();
