/* Copy buttons: <button data-copy="#id"> copies the text of that element
   (the snippet, a new key, the identity secret). No inline scripts: CSP. */
(function () {
  "use strict";

  function selectText(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function copied(button, ok) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    var words = {};
    try { words = JSON.parse(document.body.dataset.adminStrings || "{}"); } catch (e) { /* English */ }
    button.textContent = ok ? words.copied || "copied" : words.pressCopy || "pressCopy";
    setTimeout(function () { button.textContent = label; }, 2000);
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.querySelector(button.getAttribute("data-copy"));
    if (!source) return;
    var text = source.textContent;
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { copied(button, true); }, function () {
        selectText(source);
        copied(button, false);
      });
    } else {
      // Plain-HTTP pages have no clipboard API: select the text for the user to copy.
      selectText(source);
      copied(button, false);
    }
  });
})();
