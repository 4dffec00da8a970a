/* Canned replies in the admin's answer box: "/" and a few letters ask the server
   for matching replies (filled for this inquiry); Up/Down choose, Enter or Tab
   (or a click) puts the filled text in place of "/word" for editing, Escape
   closes. Listens in the capture phase, so Enter picks a reply instead of sending. */
(function () {
  "use strict";
  var word = null, timer = null, asked = 0;

  function box() { return document.querySelector("textarea[data-canned-url]"); }
  function list() { return document.getElementById("canned-list"); }
  function isOpen() { var l = list(); return !!l && !l.hidden; }
  function options() { return list() ? Array.prototype.slice.call(list().querySelectorAll("[role=option]")) : []; }

  // "/ship" just before the caret, at the start or after a space: {start, typed}.
  function slashWord(t) {
    var before = t.value.slice(0, t.selectionStart);
    var m = /(^|\s)\/([\w-]{0,40})$/.exec(before);
    return m ? { start: before.length - m[2].length - 1, typed: m[2] } : null;
  }
  function close() {
    var l = list(), t = box();
    word = null;
    clearTimeout(timer);
    if (l) { l.hidden = true; l.textContent = ""; }
    if (t) t.removeAttribute("aria-activedescendant");
  }
  function select(i) {
    var all = options(), t = box();
    if (!all.length) return;
    i = (i + all.length) % all.length;
    all.forEach(function (o, n) { o.setAttribute("aria-selected", n === i ? "true" : "false"); });
    t.setAttribute("aria-activedescendant", all[i].id);
    all[i].scrollIntoView({ block: "nearest" });
  }
  function selected() { return options().filter(function (o) { return o.getAttribute("aria-selected") === "true"; })[0]; }
  function insert(option) {
    var t = box(), w = word;
    if (!t || !w || !option) return;
    var text = option.dataset.text, end = t.selectionStart;
    t.value = t.value.slice(0, w.start) + text + t.value.slice(end);
    close();
    t.focus();
    t.setSelectionRange(w.start + text.length, w.start + text.length);
  }
  function ask(t, w) {
    var mine = ++asked;
    fetch(t.dataset.cannedUrl + "?q=" + encodeURIComponent(w.typed),
      { headers: { "HX-Request": "true" }, credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : ""; })
      .then(function (html) {
        if (mine !== asked || !word) return;  // a later keystroke asked again
        var l = list();
        l.innerHTML = html;  // server-rendered, escaped
        l.hidden = false;  // a textarea may not carry aria-expanded: the active option is announced
        select(0);
      })
      .catch(close);
  }

  document.addEventListener("input", function (e) {
    var t = e.target;
    if (!t.matches || !t.matches("textarea[data-canned-url]")) return;
    var w = slashWord(t);
    if (!w) { close(); return; }
    word = w;
    clearTimeout(timer);
    timer = setTimeout(function () { ask(t, w); }, 100);
  });
  document.addEventListener("keydown", function (e) {
    if (!e.target.matches || !e.target.matches("textarea[data-canned-url]") || !isOpen()) return;
    if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      var i = options().indexOf(selected());
      select(i + (e.key === "ArrowDown" ? 1 : -1));
    } else if ((e.key === "Enter" && !e.shiftKey && !e.isComposing) || e.key === "Tab") {
      if (!selected()) { close(); return; }
      e.preventDefault();
      e.stopImmediatePropagation();  // not a send
      insert(selected());
    } else if (e.key === "Escape") {
      e.preventDefault();
      close();
    }
  }, true);
  document.addEventListener("mousedown", function (e) {
    var option = e.target.closest && e.target.closest("#canned-list [role=option]");
    if (option) { e.preventDefault(); insert(option); }
    else if (isOpen() && !e.target.closest("#canned-list")) close();
  });
})();
