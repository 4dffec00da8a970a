"""The installable panel on a phone-sized Chromium: its service worker registers, "Notify this
device" subscribes, a customer's question goes out as a push (to a push service in the
test, which decrypts it), and that push, delivered to the service worker through the
DevTools protocol, shows the notification; tapping it opens the inquiry. A device whose
visible tab shows the inquiry gets no notification.

Chromium here cannot reach a real push service, so ``PushManager.subscribe`` is replaced
by one that answers the subscription of a ``Browser()`` from ``push_service.py`` (its
endpoint is our push service): everything from there on is the real code.
"""

import json
import re
import urllib.request
from urllib.parse import urlsplit

import pytest

from chat.push_delivery import new_private_key, public_key_of

from .browser import NOTIFICATION_RECORDER, screenshot
from .live_server import LiveServer, demo_admin_password, free_port, prepared_env
from .push_service import Browser, PushService, verified_claims

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}

FAKE_PUSH_MANAGER = """
(() => {
  const sub = %s;
  const KEY = "test:subscribed";
  const make = () => ({
    endpoint: sub.endpoint,
    toJSON: () => ({endpoint: sub.endpoint, expirationTime: null, keys: sub.keys}),
    unsubscribe: () => { localStorage.removeItem(KEY); return Promise.resolve(true); },
  });
  PushManager.prototype.subscribe = function () { localStorage.setItem(KEY, "1"); return Promise.resolve(make()); };
  PushManager.prototype.getSubscription = function () {
    return Promise.resolve(localStorage.getItem(KEY) ? make() : null);
  };
})();
"""


@pytest.fixture
def push_service():
    with PushService() as service:
        yield service


@pytest.fixture
def push_shop(tmp_path, push_service):
    """The real server (gunicorn) allowed to push to the test's push service on loopback."""
    port = free_port()
    private = new_private_key()
    env = prepared_env(
        tmp_path,
        database_url=f"sqlite:///{tmp_path}/push.sqlite",
        PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        PUSH_ALLOW_PRIVATE_ENDPOINTS="true",
        VAPID_PRIVATE_KEY=private,
        VAPID_SUBJECT="mailto:shop@example.com",
    )
    with LiveServer(env, port=port) as server:
        server.admin_password = demo_admin_password(env)
        server.vapid_public_key = public_key_of(private)
        yield server


def ask(server, text, product_id=1):
    """A shopper's question through the customer API; returns the inquiry id."""
    request = urllib.request.Request(
        f"{server.url}/api/products/{product_id}/messages",
        data=json.dumps({"message_text": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)["inquiry_id"]


def ready(page):
    """The scope of the page's active service worker (None if none within 5 s)."""
    return page.evaluate(
        "Promise.race([navigator.serviceWorker.ready.then(r => r.scope),"
        " new Promise(done => setTimeout(() => done(null), 5000))])"
    )


def notifications(page):
    return page.evaluate(
        "navigator.serviceWorker.ready.then(r => r.getNotifications())"
        ".then(all => all.map(n => ({title: n.title, body: n.body, url: n.data && n.data.url})))"
    )


def wait_for_notifications(page, count, timeout_ms=5000):
    waited = 0
    while len(notifications(page)) < count and waited < timeout_ms:
        page.wait_for_timeout(100)
        waited += 100
    return notifications(page)


class ServiceWorkerSession:
    """The DevTools protocol's ServiceWorker domain for one page: deliver a push to the panel's worker."""

    def __init__(self, context, page, scope):
        self.cdp = context.new_cdp_session(page)
        self.registrations = {}
        self.cdp.on("ServiceWorker.workerRegistrationUpdated", self._updated)
        self.cdp.send("ServiceWorker.enable")
        self.page = page
        self.scope = scope

    def _updated(self, event):
        for registration in event["registrations"]:
            if not registration.get("isDeleted"):
                self.registrations[registration["scopeURL"]] = registration["registrationId"]

    def push(self, origin, payload):
        waited = 0
        while self.scope not in self.registrations and waited < 5000:
            self.page.wait_for_timeout(100)
            waited += 100
        self.cdp.send(
            "ServiceWorker.deliverPushMessage",
            {"origin": origin, "registrationId": self.registrations[self.scope], "data": json.dumps(payload)},
        )


def tap(context, index=0):
    """Tap a shown notification: its ``notificationclick`` in the service worker."""
    # One worker per panel language: /admin/sw.js?lang=en
    [worker] = [w for w in context.service_workers if urlsplit(w.url).path.endswith("/admin/sw.js")]
    worker.evaluate(
        """(index) => self.registration.getNotifications().then(all => {
             try { self.dispatchEvent(new NotificationEvent("notificationclick", {notification: all[index]})); }
             catch (e) { /* waitUntil refuses a synthetic event; the handler has started all the same */ }
           })""",
        index,
    )


def test_a_push_shows_a_notification_that_opens_the_inquiry(browser, push_shop, push_service):
    server = push_shop
    phone = Browser()
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True, device_scale_factor=2)
    context.grant_permissions(["notifications"], origin=server.url)
    context.add_init_script(FAKE_PUSH_MANAGER % json.dumps(phone.subscription(push_service.endpoint("phone"))))
    context.add_init_script(NOTIFICATION_RECORDER)  # the page's own desktop notifications (notify.js), recorded
    page = context.new_page()
    page.goto(server.url + "/admin/login")
    page.fill("#email", "admin@example.com")
    page.fill("#password", server.admin_password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/admin$"))

    # The service worker registers for /admin/ and takes the page.
    page.goto(server.url + "/admin/inquiries?status=waiting")
    scope = ready(page)
    assert scope == server.url + "/admin/"
    page.reload()
    assert page.evaluate("navigator.serviceWorker.controller !== null")
    workers = ServiceWorkerSession(context, page, scope)

    # "Notify this device" in the Notifications menu.
    page.click("summary:has-text('Notifications')")
    button = page.locator("[data-push-toggle]")
    button.wait_for()
    button.click()
    page.locator("[data-push-status]", has_text="This device is notified").wait_for(timeout=5000)
    assert button.inner_text() == "Stop notifying this device"
    page.check("[data-notify-setting=desktop]")  # the page's own notifications too: the push replaces them
    screenshot(page, "push-1-notify-this-device")  # test-artifacts/; the ones in docs/screenshots/ are copies

    # A shopper asks: the server pushes to the device's push service, signed and encrypted.
    inquiry_id = ask(server, "Does the backpack have a rain cover?")
    [request] = push_service.wait_for(1)
    verified_claims(request, server.vapid_public_key, push_service.origin)
    payload = phone.decrypt(request)
    assert payload["url"] == f"/admin/inquiries/{inquiry_id}"
    assert payload["body"] == ""  # "Show message text" is off on this device
    # The open panel heard of it too, and left the notification to the push: one, not two.
    page.wait_for_function("() => document.getElementById('waiting-count').dataset.count === '1'", timeout=8000)
    page.wait_for_timeout(300)
    assert page.evaluate("window.__notes") == []

    # The push service hands it to the browser: the service worker shows it.
    page.locator("summary:has-text('Notifications')").click()  # close the menu
    workers.push(server.url, payload)
    [shown] = wait_for_notifications(page, 1)
    assert shown["title"].startswith("New question about ") and shown["url"] == payload["url"]
    _draw_notification(page, shown)
    screenshot(page, "push-2-notification")
    page.evaluate("document.getElementById('test-notification').remove()")

    # Tapping it opens the inquiry.
    tap(context)
    page.wait_for_url(re.compile(rf".*/admin/inquiries/{inquiry_id}$"), timeout=5000)
    page.locator(".chat-log", has_text="rain cover").wait_for(timeout=5000)
    screenshot(page, "push-3-tapped-opens-the-inquiry")
    assert wait_for_notifications(page, 0) == []

    # This device shows that inquiry in a visible tab: a push about it shows nothing...
    workers.push(server.url, payload)
    page.wait_for_timeout(700)
    assert notifications(page) == []
    # ...while one about another inquiry still does.
    workers.push(server.url, dict(payload, url="/admin/inquiries/999999", tag="inquiry-999999"))
    assert [n["url"] for n in wait_for_notifications(page, 1)] == ["/admin/inquiries/999999"]

    # The Account page lists this device; removing it there turns the menu back to "Notify this device".
    page.goto(server.url + "/admin/account")
    device = page.locator("table.devices tbody tr")
    assert device.count() == 1 and "(this device)" in device.inner_text()
    page.evaluate("document.getElementById('devices').scrollIntoView()")
    screenshot(page, "push-4-account-devices")
    device.locator("button", has_text="Remove").click()
    page.locator("#no-devices").wait_for()
    page.click("summary:has-text('Notifications')")
    page.locator("[data-push-toggle]", has_text="Notify this device").wait_for(timeout=5000)
    context.close()


def test_offline_the_panel_shows_its_offline_page_and_no_page_is_cached(browser, push_shop):
    server = push_shop
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(server.url + "/admin/login")
    page.fill("#email", "admin@example.com")
    page.fill("#password", server.admin_password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/admin$"))
    page.goto(server.url + "/admin/inquiries?status=waiting")
    assert ready(page)
    cached = page.evaluate(
        "caches.keys().then(names => Promise.all(names.map(n => caches.open(n).then(c => c.keys()))))"
        ".then(lists => lists.flat().map(r => new URL(r.url).pathname))"
    )
    assert "/admin/offline" in cached
    assert all(path == "/admin/offline" or path.startswith("/static/") for path in cached), cached
    context.set_offline(True)
    page.goto(server.url + "/admin/inquiries/1")
    page.locator("h1", has_text="You are offline").wait_for(timeout=5000)
    context.close()


def _draw_notification(page, shown):
    """Chromium draws notifications outside the page: for the screenshot, the same title and body
    as the service worker showed them, drawn over the page like a phone's banner."""
    page.evaluate(
        """(n) => {
          const card = document.createElement("div");
          card.id = "test-notification";
          card.style.cssText = "position:fixed;top:10px;left:10px;right:10px;z-index:99;background:#fff;"
            + "border-radius:16px;box-shadow:0 6px 24px rgba(0,0,0,.25);padding:12px 14px;display:flex;gap:12px;"
            + "font:14px system-ui,sans-serif;align-items:center";
          const icon = document.createElement("img");
          icon.src = document.querySelector('link[rel=manifest]') ? "/static/icons/admin-192.png" : "";
          icon.style.cssText = "width:40px;height:40px;border-radius:10px";
          const text = document.createElement("div");
          const title = document.createElement("strong");
          title.textContent = n.title;
          const body = document.createElement("div");
          body.textContent = n.body || "Shop admin · tap to open";
          body.style.color = "#555";
          text.append(title, body);
          card.append(icon, text);
          document.body.append(card);
        }""",
        shown,
    )
    page.wait_for_timeout(200)


def test_a_subscription_the_browser_renewed_is_told_to_the_server_on_the_next_page(browser, push_shop, push_service):
    server = push_shop
    context = browser.new_context(viewport=PHONE)
    context.grant_permissions(["notifications"], origin=server.url)
    renewed = Browser().subscription(push_service.endpoint("renewed"))
    context.add_init_script(FAKE_PUSH_MANAGER % json.dumps(renewed))
    page = context.new_page()
    page.goto(server.url + "/admin/login")
    page.fill("#email", "admin@example.com")
    page.fill("#password", server.admin_password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/admin$"))
    # This device was turned on (the subscription the server knew has since answered 410 and
    # was dropped); the browser now holds a renewed one under another endpoint.
    page.evaluate(
        """(old) => {
             localStorage.setItem("productchat:admin:push", JSON.stringify({id: 424242, endpoint: old}));
             localStorage.setItem("test:subscribed", "1");
           }""",
        push_service.endpoint("expired"),
    )
    page.reload()
    page.click("summary:has-text('Notifications')")
    page.locator("[data-push-toggle]", has_text="Stop notifying this device").wait_for(timeout=5000)
    page.goto(server.url + "/admin/account")
    assert "(this device)" in page.locator("table.devices tbody tr").inner_text()
    ask(server, "Is it waterproof?")
    assert [r["path"] for r in push_service.wait_for(1)] == ["/push/renewed"]
    context.close()
