/* Product chat loader: <script src=".../widget.js" data-site="SITE" data-product="ID" async>.
   Draws the launcher in a shadow root (its styles are a constructed sheet, which
   a host page's CSP allows) and opens the chat in an iframe of ours: created on
   first open, or at load when the shopper has a conversation (for the badge).
   The shopper's token lives in this page's localStorage and goes to the iframe
   by postMessage (exact origins both ways), never in a URL. No dependencies.
   Before drawing anything it asks our server whether this page's origin may
   show the site's chat (one small cached answer): a page that may not gets one
   console warning and nothing else. While our server does not answer, nothing
   shows and the question is asked again with backoff (full jitter, 1 s up to
   60 s; one slow try while the tab is hidden): the launcher comes back when
   the server does. The panel shows only once the chat in it has said "ready".
   Its words come with that answer, in the shopper's language: the shop's data-locale,
   else the browser's languages (navigator.languages), as the site enables them; the
   chat page gets the same two, and on a right-to-left language the launcher sits left. */
(function () {
  "use strict";
  var me = document.currentScript || document.querySelector("script[data-site][src*='widget.js']");
  if (!me || window.productChatLoaded) return;
  window.productChatLoaded = 1;
  var d = me.dataset, site = d.site, product = d.product;
  if (!site || !product) return;
  var E = encodeURIComponent, CHAT = new URL(me.src).origin, KEY = "productchat:" + site, AT = CHAT + "/embed/" + E(site);
  function get(s, k) { try { return JSON.parse(window[s].getItem(k)) || {}; } catch (e) { return {}; } }
  function put(s, k, v) { try { window[s].setItem(k, JSON.stringify(v)); } catch (e) { /* no storage */ } }
  var keep = get("localStorage", KEY);   // t: token, c: the customer it belongs to, h: has a conversation
  var tab = get("sessionStorage", KEY);  // o: panel open
  var who = d.customerId ? { customer_id: d.customerId, email: d.customerEmail || "",
    timestamp: d.customerTimestamp || "", signature: d.customerSignature || "" } : null;
  if ((keep.c || null) !== (who ? who.customer_id : null)) keep = {};  // another (or no) customer: not theirs
  var ASK = "locale=" + E(d.locale || "") + "&languages=" +
    E([].concat(navigator.languages || navigator.language || []).slice(0, 12).join());
  var words = {};  // the launcher's words, with the server's answer
  function say(key, n) { return (words[key] || "").replace("%(num)s", n); }
  var hash = location.hash, resume = (hash.match(/productchat-resume=([^&]+)/) || [])[1];
  if (resume) history.replaceState(null, "", location.pathname + location.search);
  var host = document.createElement("div"), root = host.attachShadow({ mode: "open" });
  var sheet = new CSSStyleSheet();
  sheet.replaceSync(
    ":host{all:initial}button{position:fixed;inset-inline-end:20px;bottom:20px;z-index:2147483000;display:flex;" +
    "align-items:center;gap:8px;padding:12px 18px;border:0;border-radius:999px;background:#2557d6;color:#fff;" +
    "font:600 15px/1.2 system-ui,sans-serif;box-shadow:0 6px 24px rgba(20,30,60,.25);cursor:pointer}" +
    "button:focus-visible{outline:3px solid #f4b400;outline-offset:2px}svg{width:20px;height:20px}" +
    "button[aria-busy=true]{cursor:progress;opacity:.8}" +
    "b{background:#b42318;border-radius:999px;min-width:20px;height:20px;padding:0 6px;display:grid;" +
    "place-items:center;font-size:12px}b[hidden],iframe[hidden]{display:none}iframe{position:fixed;inset-inline-end:20px;" +
    "bottom:84px;width:380px;height:min(620px,calc(100vh - 110px));border:0;border-radius:12px;background:#fff;" +
    "box-shadow:0 12px 40px rgba(20,30,60,.3);z-index:2147483001}@media(max-width:560px){button{padding:14px}" +
    "button span{position:absolute;clip-path:inset(50%)}" +
    "iframe{inset:0;width:100%;height:100%;border-radius:0}}" +
    "p{position:fixed;clip-path:inset(50%)}");
  root.adoptedStyleSheets = [sheet];
  var button = document.createElement("button");
  button.type = "button";
  button.setAttribute("aria-expanded", "false");
  button.innerHTML = '<svg aria-hidden="true" viewBox="0 0 24 24" fill="none" stroke="currentColor" stroke-width="2">' +
    '<path d="M21 12a8 8 0 0 1-11.6 7.1L4 20l1.1-4.6A8 8 0 1 1 21 12z"/></svg><span></span><b hidden></b>';
  // With the chat closed, a new answer is said here (screen readers read a status region's changes).
  var said = root.appendChild(document.createElement("p"));
  said.role = "status";
  var badge = button.querySelector("b"), frame = null, loaded = false, ready = false, open = false, timer = 0;
  var tries = 0, retry = 0, off = 0;  // answers missed in a row; the one timer that asks again; blocked here
  var touch = false;  // opened by a finger: the chat's Enter key makes new lines
  var title = document.title, count = 0;

  // Only once our page is in the frame (before, it holds about:blank of this page's origin).
  function tell(m) { if (loaded && frame.contentWindow) { m.pc = 1; frame.contentWindow.postMessage(m, CHAT); } }
  function hello() {
    tell({ type: "hello", token: keep.t || "", customer: who, resume: resume ? decodeURIComponent(resume) : "",
      open: open, touch: touch, page: { url: location.href, title: document.title } });
  }
  /* Ask our server again later: full jitter under a ceiling that doubles from 1 s up to 60 s
     (static/js/backoff.js keeps the same schedule); hidden, one slow try in 2.5-5 minutes. */
  function later() {
    if (off) return;
    clearTimeout(retry);
    retry = setTimeout(check, document.hidden ? 15e4 * (1 + Math.random())
      : Math.random() * Math.min(6e4, 1e3 * Math.pow(2, tries++)));
  }
  function check() {
    retry = 0;
    // After a miss, past the browser's cache: it may still hold the answer of a server now gone.
    fetch(AT + "/allowed?" + ASK, { credentials: "omit", cache: tries ? "no-cache" : "default" })
      .then(function (r) { if (!r.ok) throw r; return r.json(); })
      .then(function (a) {
        if (a.allowed) { words = a.strings || {}; mount(); }
        else console.warn("Product chat: site " + site + " does not list " + location.origin + "; no chat here.");
      }, later);
  }
  function gone() {  // the chat did not come up (our server went away): no broken panel, ask again later
    if (ready) return;
    clearTimeout(timer);
    if (frame) frame.remove();
    frame = null; loaded = false;
    host.remove();
    later();
  }
  function make() {
    if (frame) return;
    frame = document.createElement("iframe");
    frame.title = say("frame");
    frame.hidden = true;
    frame.src = AT + "/products/" + E(product) + "?v=__VERSION__&" + ASK;
    frame.addEventListener("load", function () {
      loaded = true; hello(); clearTimeout(timer); timer = setTimeout(gone, 5000);
    });
    clearTimeout(timer); timer = setTimeout(gone, 3e4);  // no page at all (a hung server)
    root.insertBefore(frame, button);
  }
  function shown() {  // the panel shows once the chat in it is ready, never an error page
    frame.hidden = !(open && ready);
    if (open && !ready) button.setAttribute("aria-busy", "true"); else button.removeAttribute("aria-busy");
  }
  function show(on) {
    open = on; tab.o = on ? 1 : 0; put("sessionStorage", KEY, tab);
    make();
    shown();
    button.setAttribute("aria-expanded", String(on));
    button.style.display = on && innerWidth <= 560 ? "none" : "";  // the panel fills a phone's screen
    tell({ type: on ? "open" : "close", touch: touch });
    if (on && ready) frame.focus(); else if (!on) button.focus();
  }
  function unread(n) {
    n = Math.max(0, parseInt(n, 10) || 0);
    badge.hidden = !n; badge.textContent = n;
    button.setAttribute("aria-label", n ? say(n > 1 ? "many" : "one", n) : say("ask"));
    if (n > count) {
      if (!open) said.textContent = say(n > 1 ? "saidMany" : "saidOne", n);
      if (document.hidden) document.title = "(" + n + ") " + say("new") + " · " + title;
    }
    count = n;
  }
  button.addEventListener("pointerdown", function (e) { touch = e.pointerType === "touch"; });
  button.addEventListener("click", function () { show(!open); });
  addEventListener("message", function (e) {
    if (!frame || e.source !== frame.contentWindow || e.origin !== CHAT || !e.data || e.data.pc !== 1) return;
    var m = e.data;
    if (m.type === "ready") { ready = true; tries = 0; clearTimeout(timer); shown(); if (open) frame.focus(); }
    else if (m.type === "session" && typeof m.token === "string") {
      keep.t = m.token; keep.c = who ? who.customer_id : null; put("localStorage", KEY, keep);
    } else if (m.type === "conversation") { keep.h = 1; put("localStorage", KEY, keep); }
    else if (m.type === "unread") unread(m.count);
    else if (m.type === "close") show(false);
  });
  function asap() { if (retry) { clearTimeout(retry); check(); } }  // back in view, or online again
  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { document.title = title; asap(); }
  });
  addEventListener("online", asap);
  // The page's own Content-Security-Policy blocks us (connect-src, frame-src): asking again cannot help.
  document.addEventListener("securitypolicyviolation", function (e) {
    if (off || (e.blockedURI || "").indexOf(CHAT) !== 0) return;
    off = 1; clearTimeout(retry); clearTimeout(timer); host.remove();
    console.warn("Product chat: this page's CSP (" + e.effectiveDirective + ") blocks " + CHAT + "; no chat here.");
  });
  function mount() {
    if (off) return;
    if (!document.body) return document.addEventListener("DOMContentLoaded", mount);
    host.dir = words.dir;  // the launcher and panel sit at the inline end: left in RTL
    host.lang = words.lang;
    button.querySelector("span").textContent = say("ask");
    unread(0);
    root.appendChild(button);
    document.body.appendChild(host);
    if (tab.o || resume || /chat=open/.test(hash + location.search)) show(true);
    else if (keep.h) make();  // a returning shopper: the badge counts answers, live
  }
  check();
})();
