/* Files with a message (the widget and the admin's answer box): picked, dropped, pasted
   or taken with the phone's camera; shown in a tray with a preview, each removable; sent
   with the text in one multipart request whose upload progress is drawn per file (an
   XMLHttpRequest: fetch cannot report upload progress), with a cancel button per file
   (the upload starts again without it, same client id). Files the server refuses come
   back to the tray with the reason next to each. The server decides; the checks here
   only spare a shopper a long upload that would be refused. */
(function () {
  "use strict";
  var conv = window.chatConversation;
  if (!conv) return;
  var tray = [];  // {file, url, error}
  var strings = null;

  // What this script says, from the page (conversation/_attach_controls.html): %(name)s is filled in here.
  function say(key, values) {
    if (!strings) {
      var holder = document.querySelector("[data-attach-tray]");
      strings = JSON.parse((holder && holder.dataset.strings) || "{}");
    }
    return String(strings[key] || key).replace(/%\((\w+)\)s/g, function (_, name) { return values && name in values ? values[name] : ""; });
  }

  function form() { return document.querySelector("[data-chat-form]"); }
  function input() { return document.querySelector("[data-attach-input]"); }
  function limits() {
    var f = form();
    return { files: parseInt(f.dataset.maxFiles || "5", 10), bytes: parseInt(f.dataset.maxBytes || "10485760", 10) };
  }
  function size(bytes) {
    var lang = document.documentElement.lang || undefined;
    if (bytes < 1024) return say("bytes", { num: bytes.toLocaleString(lang) });
    if (bytes < 1048576) return say("kilobytes", { num: Math.round(bytes / 1024).toLocaleString(lang) });
    return say("megabytes", { num: (Math.round(bytes / 104857.6) / 10).toLocaleString(lang) });
  }
  function isImage(file) { return /^image\//.test(file.type) || /\.(heic|heif)$/i.test(file.name); }
  function accepted(file) { return isImage(file) || file.type === "application/pdf" || /\.pdf$/i.test(file.name); }
  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null) node.textContent = text;
    return node;
  }
  function preview(item) {
    // Browsers cannot draw HEIC: a plain tile, like a PDF's.
    if (isImage(item.file) && !/hei[cf]/i.test(item.file.type + item.file.name)) {
      if (!item.url) item.url = URL.createObjectURL(item.file);
      var img = el("img");
      img.alt = ""; img.width = 48; img.height = 48;
      // Not a picture after all (the server will say so): a plain tile.
      img.addEventListener("error", function () { img.replaceWith(el("span", "file-icon", "?")); });
      img.src = item.url;
      return img;
    }
    return el("span", "file-icon", /\.pdf$/i.test(item.file.name) ? "PDF" : "IMG");
  }

  /* ---- the tray ----------------------------------------------------------- */
  function drawTray() {
    var list = document.querySelector("[data-attach-tray]");
    if (!list) return;
    list.textContent = "";
    tray.forEach(function (item, index) {
      var li = el("li", "attach-item" + (item.error ? " refused" : ""));
      var name = el("span", "attach-name", item.file.name);
      var remove = el("button", "attach-remove", "×");
      remove.type = "button";
      remove.setAttribute("aria-label", say("remove", { name: item.file.name }));
      remove.addEventListener("click", function () { drop(index); });
      li.append(preview(item), name, el("span", "attach-size", size(item.file.size)), remove);
      if (item.error) {
        var why = el("span", "attach-error", item.error);
        why.setAttribute("role", "alert");
        why.tabIndex = -1;
        li.appendChild(why);
      }
      list.appendChild(li);
    });
    list.hidden = !tray.length;
  }
  function drop(index) {
    var item = tray.splice(index, 1)[0];
    if (item && item.url) URL.revokeObjectURL(item.url);
    drawTray();
    var box = form() && form().querySelector("textarea");
    if (box) box.focus();
  }
  function add(files) {
    var most = limits();
    Array.prototype.forEach.call(files || [], function (file) {
      var item = { file: file, url: null, error: null };
      if (tray.length >= most.files) item.error = say("tooMany", { max: most.files });
      else if (!accepted(file)) item.error = say("notAccepted");
      else if (file.size > most.bytes) item.error = say("tooLarge", { size: size(most.bytes) });
      tray.push(item);
    });
    drawTray();
  }

  /* ---- what conversation.js asks ---------------------------------------------- */
  conv.files.take = function () {
    if (tray.some(function (item) { return item.error; })) {
      var refused = document.querySelector("[data-attach-tray] .attach-error");
      if (refused) refused.focus();
      return null;
    }
    var files = tray.map(function (item) { return item.file; });
    tray.forEach(function (item) { if (item.url) URL.revokeObjectURL(item.url); });
    tray = [];
    drawTray();
    return files;
  };

  conv.files.show = function (li) {
    if (!li.files || !li.files.length) return;
    var list = el("ul", "attachments uploading");
    list.setAttribute("aria-label", say("uploading"));
    li.files.forEach(function (file) {
      var item = el("li", "attachment");
      var bar = el("progress");
      bar.max = 100; bar.value = 0;
      bar.setAttribute("aria-label", say("sending", { name: file.name }));
      var cancel = el("button", "attach-cancel", say("cancel"));
      cancel.type = "button";
      cancel.setAttribute("aria-label", say("doNotSend", { name: file.name }));
      cancel.addEventListener("click", function () { cancelFile(li, file); });
      item.file = file;
      item.append(preview({ file: file }), el("span", "attach-name", file.name), bar, cancel);
      list.appendChild(item);
    });
    li.insertBefore(list, li.querySelector(".meta"));
  };

  function cancelFile(li, file) {
    li.files = li.files.filter(function (f) { return f !== file; });
    Array.prototype.forEach.call(li.querySelectorAll(".uploading > li"), function (item) {
      if (item.file === file) item.remove();
    });
    if (li.xhr) li.xhr.abort();  // send() starts again without it
  }

  // One multipart request; the bytes of file i come after those of the files before it.
  conv.files.send = function (url, body, li) {
    if (!li.files || !li.files.length) return conv.request(url, "POST", body);
    return new Promise(function (resolve, reject) {
      function attempt() {
        if (!li.files.length && !li.dataset.text) { resolve(new Response(null, { status: 204 })); return; }
        body.delete("files");
        li.files.forEach(function (file) { body.append("files", file, file.name); });
        var xhr = li.xhr = new XMLHttpRequest();
        xhr.open("POST", url);
        var headers = Object.assign({ "HX-Request": "true" }, conv.headers());
        Object.keys(headers).forEach(function (name) { xhr.setRequestHeader(name, headers[name]); });
        var bars = li.querySelectorAll(".uploading progress");
        xhr.upload.onprogress = function (e) {
          if (!e.lengthComputable) return;
          var before = 0, total = li.files.reduce(function (sum, f) { return sum + f.size; }, 0) || 1;
          var overhead = Math.max(0, e.total - total);
          li.files.forEach(function (file, i) {
            var done = (e.loaded - overhead * 0.5 - before) / (file.size || 1);
            if (bars[i]) bars[i].value = Math.round(100 * Math.min(1, Math.max(0, done)));
            before += file.size;
          });
        };
        xhr.onload = function () {
          li.xhr = null;
          var headers = new Headers();
          xhr.getAllResponseHeaders().trim().split(/[\r\n]+/).forEach(function (line) {
            var at = line.indexOf(":");
            if (at > 0) headers.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
          });
          var response = new Response(xhr.status === 204 ? null : xhr.responseText, { status: xhr.status, headers: headers });
          conv.answered(response);
          resolve(response);
        };
        xhr.onabort = function () { li.xhr = null; attempt(); };  // a file was cancelled: the rest, again
        xhr.onerror = xhr.ontimeout = function () { li.xhr = null; reject(new Error("network")); };
        xhr.send(body);
      }
      attempt();
    });
  };

  conv.files.giveBack = function (li, reason) {
    if (!li.files || !li.files.length) return;
    var errors = {};
    if (reason && reason.querySelectorAll) {
      Array.prototype.forEach.call(reason.querySelectorAll("[data-field]"), function (item) {
        var index = (item.dataset.field.match(/^files\[(\d+)\]$/) || [])[1];
        if (index != null) errors[index] = item.textContent;
      });
    }
    tray = li.files.map(function (file, i) { return { file: file, url: null, error: errors[i] || null }; }).concat(tray);
    li.files = [];
    drawTray();
  };

  // A file whose bytes are gone, or a link that expired while the page stayed open.
  document.addEventListener("error", function (e) {
    if (!e.target.matches || !e.target.matches("img[data-attachment]")) return;
    e.target.closest("a").replaceWith(el("span", "attachment-gone", say("unavailable")));
  }, true);

  /* ---- picked, dropped, pasted --------------------------------------------------- */
  document.addEventListener("change", function (e) {
    if (!e.target.matches("[data-attach-input]")) return;
    add(e.target.files);
    e.target.value = "";  // the same file may be picked again
  });
  document.addEventListener("paste", function (e) {
    if (!e.target.closest || !e.target.closest("[data-chat-form]")) return;
    var files = e.clipboardData && e.clipboardData.files;
    if (files && files.length) { e.preventDefault(); add(files); }
  });
  function dropZone() { return document.querySelector("[data-conversation]"); }
  ["dragenter", "dragover"].forEach(function (type) {
    document.addEventListener(type, function (e) {
      if (!input() || !e.dataTransfer || Array.prototype.indexOf.call(e.dataTransfer.types || [], "Files") < 0) return;
      e.preventDefault();
      if (dropZone()) dropZone().classList.add("dropping");
    });
  });
  ["dragleave", "drop"].forEach(function (type) {
    document.addEventListener(type, function (e) {
      if (dropZone() && (type === "drop" || !e.relatedTarget)) dropZone().classList.remove("dropping");
      if (type === "drop" && input() && e.dataTransfer && e.dataTransfer.files.length) {
        e.preventDefault();
        add(e.dataTransfer.files);
      }
    });
  });
})();
