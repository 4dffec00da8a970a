/* The admin panel's service worker (scope {{ scope }}), served by chat/admin/app_shell.py.
   It caches only the app shell (our static files, by content-hashed URL) and the offline
   page: never a page or an answer of the panel, which hold customers' words. It shows
   Web Push notifications, unless this device shows that inquiry in a visible tab, and
   opens the inquiry when one is tapped. */
"use strict";
var SHELL = {{ shell|tojson }};
var CACHE = "admin-shell-{{ version }}";
var OFFLINE = SHELL[0];
var ICON = {{ url_for('static', filename='icons/admin-192.png')|tojson }};

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(CACHE).then(function (cache) { return cache.addAll(SHELL); }).then(function () {
    return self.skipWaiting();
  }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) { return name.indexOf("admin-shell-") === 0 && name !== CACHE; })
      .map(function (name) { return caches.delete(name); }));
  }).then(function () { return self.clients.claim(); }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    // Pages always come from the network (never stored); offline, the offline page.
    event.respondWith(fetch(request).catch(function () { return caches.match(OFFLINE); }));
    return;
  }
  if (SHELL.indexOf(url.pathname) >= 0) {
    event.respondWith(caches.match(request).then(function (hit) { return hit || fetch(request); }));
  }
  // Anything else (fragments, streams, the API, files) goes to the network untouched.
});

/* ---- Web Push -------------------------------------------------------------------- */
function showingInquiry(url) {
  // Is a visible tab of this device showing that inquiry already? Then it needs no push.
  return self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
    return windows.some(function (client) {
      return client.visibilityState === "visible" && new URL(client.url).pathname === url;
    });
  });
}

self.addEventListener("push", function (event) {
  var note = {};
  try { note = event.data ? event.data.json() : {}; } catch (e) { note = {}; }
  var url = note.url || "{{ scope }}";
  event.waitUntil(showingInquiry(url).then(function (shown) {
    if (shown) return undefined;
    return self.registration.showNotification(note.title || "New message", {
      body: note.body || "",
      tag: note.tag || "product-chat",
      renotify: true,
      requireInteraction: !!note.urgent,
      icon: ICON,
      badge: ICON,
      data: { url: url, inquiry_id: note.inquiry_id || null }
    });
  }));
});

self.addEventListener("notificationclick", function (event) {
  var url = (event.notification.data && event.notification.data.url) || "{{ scope }}";
  event.notification.close();
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then(function (windows) {
    var panel = windows.filter(function (client) { return new URL(client.url).pathname.indexOf("{{ scope }}") === 0; });
    var same = panel.filter(function (client) { return new URL(client.url).pathname === url; })[0];
    if (same) return same.focus();
    if (panel.length && panel[0].navigate) {
      return panel[0].navigate(url).then(function (client) {
        return client && client.focus ? client.focus().catch(function () { return client; }) : client;
      });
    }
    return self.clients.openWindow(url);
  }));
});

self.addEventListener("pushsubscriptionchange", function (event) {
  // The browser renewed (or lost) the subscription: make a new one with the same key. The
  // server learns of it the next time a panel page loads on this device (push.js), since
  // telling it needs the page's login and CSRF token.
  var old = event.oldSubscription;
  if (!old || !old.options || !old.options.applicationServerKey) return;
  event.waitUntil(self.registration.pushManager.subscribe({
    userVisibleOnly: true, applicationServerKey: old.options.applicationServerKey
  }).catch(function () { /* the page offers "Notify this device" again */ }));
});
