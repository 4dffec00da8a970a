/* Customer chat widget: open/close, send with optimistic display and retry.
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
    if (panel.dataset.loaded) { onPanelShown(panel); return; }
    htmx.ajax("GET", widget.dataset.panelUrl, { target: panel, swap: "innerHTML" }).then(function () {
      panel.dataset.loaded = "1";
      onPanelShown(panel);
    });
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
    var log = form.closest(".chat-panel-inner").querySelector(".chat-log");
    var li = pendingBubble(text, newClientId());
    log.appendChild(li);
    scrollToEnd(log);
    textarea.value = "";
    deliver(li, form);
  }

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
    // The standalone chat page is already open.
    document.querySelectorAll(".chat-panel.standalone").forEach(onPanelShown);
  });

  window.productChat = { markRead: markRead, scrollToEnd: scrollToEnd, localizeTimes: localizeTimes };
})();
