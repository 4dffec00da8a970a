"""Another shop embeds the widget: a host page on another site (http://localhost:<port>) while
the chat runs on http://127.0.0.1:<port>. This Chromium sends no third-party cookies to such a
frame, so these tests run as a Safari user's browser would: nothing may depend on cookies."""

import json
import os
import re
import subprocess
import time

import pytest

from .browser import screenshot
from .chat_helpers import admin_login, sign_identity  # noqa: F401 - admin_login: the same login as the HTML tests
from .host_page import HostPage, product_page
from .live_server import BIN, ROOT
from .widget import Widget

pytestmark = pytest.mark.browser


def create_site(server, *origins):
    args = [os.path.join(BIN, "flask"), "--app", "wsgi", "chat", "create-site", "Clay & Co"]
    for origin in origins:
        args += ["--origin", origin]
    out = subprocess.run(args, env=server.env, cwd=ROOT, check=True, capture_output=True, text=True).stdout
    return json.loads(out)


def identity_secret(server, site):
    import sqlite3

    path = server.env["DATABASE_URL"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return conn.execute("select identity_secret from sites where public_id = ?", (site,)).fetchone()[0]


def admin_page(browser, server, viewport=None):
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(server.url + "/admin/login")
    page.get_by_label("Email").fill("admin@example.com")
    page.get_by_label("Password").fill(server.admin_password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/admin(/inquiries)?(\?.*)?$"))
    return context, page


def errors_of(page):
    problems = []
    page.on("pageerror", lambda error: problems.append(f"pageerror: {error}"))
    page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
    return problems


def test_a_shop_elsewhere_embeds_the_chat_and_its_team_answers(browser, shop_server):
    with HostPage({}) as host:
        site = create_site(shop_server, host.origin)["site"]
        host.pages["/vase"] = product_page(shop_server.url, site, "vase-24")
        context = browser.new_context(viewport={"width": 1280, "height": 860})
        page = context.new_page()
        problems = errors_of(page)
        page.goto(host.url("/vase"))
        widget = Widget(page)
        widget.open()
        # Not synced yet: the chat knows the product from the host page's title.
        widget.frame.locator("h1", has_text="Hand-thrown Vase").wait_for()
        widget.send("Is the vase watertight?")
        assert page.evaluate("document.cookie") == ""
        assert widget.frame.locator("body").evaluate("() => document.cookie") == ""

        # The shop's team sees it in our admin panel, with the product the page described, and answers.
        admin_context, admin = admin_page(browser, shop_server)
        row = admin.locator("tr.inquiry-row", has_text="Hand-thrown Vase")
        row.wait_for()
        row.get_by_role("link").first.click()
        admin.get_by_text("Is the vase watertight?").wait_for()
        admin.locator("#chat-text").fill("Yes, it is glazed inside.")
        admin.locator("#chat-text").press("Enter")
        widget.log.locator("li.theirs", has_text="Yes, it is glazed inside.").wait_for(timeout=10000)
        screenshot(page, "embed-foreign-host-desktop")

        # Reload the host page: the history is there (the token lives in the host page's storage).
        widget.close()
        page.reload()
        widget = Widget(page)
        widget.open()
        widget.log.locator("li.theirs", has_text="Yes, it is glazed inside.").wait_for()
        assert widget.own_texts() == ["Is the vase watertight?"]
        # An answer while closed: the launcher's badge, after a reload too.
        widget.close()
        admin.locator("#chat-text").fill("It holds 1.5 litres.")
        admin.locator("#chat-text").press("Enter")
        widget.badge.wait_for(state="visible", timeout=10000)
        page.reload()
        Widget(page).badge.wait_for(state="visible", timeout=10000)
        assert Widget(page).badge.inner_text() == "1"
        assert problems == []
        admin_context.close()
        context.close()

        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        mobile = phone.new_page()
        mobile.goto(host.url("/vase"))
        widget = Widget(mobile)
        widget.launcher.tap()
        widget.box.wait_for()
        widget.box.fill("Does it come gift-wrapped?")
        widget.frame.get_by_role("button", name="Send").tap()
        widget.log.locator("li.own:not(.pending)").wait_for()
        screenshot(mobile, "embed-foreign-host-phone")
        phone.close()


def test_a_host_origin_that_is_not_allowed_gets_no_chat_and_one_warning(browser, shop_server):
    with HostPage({}) as host:
        site = create_site(shop_server, "https://the-real-shop.example")["site"]
        host.pages["/copy"] = product_page(shop_server.url, site, "vase-24", title="A copycat page")
        host.pages["/unknown"] = product_page(shop_server.url, "no-such-site", "vase-24", title="A typo")
        context = browser.new_context()
        for path, named in (("/copy", site), ("/unknown", "no-such-site")):
            page = context.new_page()
            said = []
            page.on("console", lambda message, said=said: said.append((message.type, message.text)))
            page.on("pageerror", lambda error, said=said: said.append(("pageerror", str(error))))
            page.goto(host.url(path))
            page.wait_for_load_state("networkidle")
            # The loader asked before it drew anything: no launcher, no panel, ever.
            page.wait_for_timeout(1000)
            assert page.get_by_role("button", name=re.compile("Ask a question")).count() == 0
            assert page.locator("iframe").count() == 0
            # One warning from us, for the shop's developer; no error.
            assert [kind for kind, _ in said] == ["warning"], said
            assert named in said[0][1] and host.origin in said[0][1]
            page.locator("#host-button").click()
            assert page.locator("#host-button").inner_text() == "host works"
        context.close()


def test_a_host_page_whose_csp_blocks_us_gets_one_warning_and_no_retries(browser, shop_server):
    with HostPage({}) as host:
        site = create_site(shop_server, host.origin)["site"]
        # It lets our script run but not fetch from us: the loader cannot ask, and says so once.
        csp = '<meta http-equiv="Content-Security-Policy" content="connect-src \'self\'">'
        host.pages["/strict"] = product_page(shop_server.url, site, "vase-24").replace("<head>", "<head>" + csp)
        context = browser.new_context()
        page = context.new_page()
        page.clock.install()
        said = []
        page.on("console", lambda message: said.append((message.type, message.text)))
        page.goto(host.url("/strict"))
        page.wait_for_load_state("networkidle")
        page.clock.run_for(5 * 60 * 1000)  # five minutes: the loader does not ask again
        page.wait_for_timeout(500)
        assert page.get_by_role("button", name=re.compile("Ask a question")).count() == 0
        warnings = [text for kind, text in said if kind == "warning"]
        assert len(warnings) == 1 and "connect-src" in warnings[0], said
        # The browser's own reports of the one blocked request (the violation, then fetch's refusal).
        refusals = [text for kind, text in said if kind == "error" and text.startswith("Connecting to")]
        assert len(refusals) == 1 and "/allowed" in refusals[0], said
        context.close()


def test_with_our_server_down_the_host_page_works_and_logs_nothing_from_us(browser, shop_server):
    with HostPage({}) as host:
        site = create_site(shop_server, host.origin)["site"]
        host.pages["/vase"] = product_page(shop_server.url, site, "vase-24")
        context = browser.new_context()
        page = context.new_page()
        page.goto(host.url("/vase"))
        Widget(page).open().send("Before the outage")
        shop_server.stop()
        try:
            problems = errors_of(page)
            page.reload()  # the loader comes from the browser's cache; the chat page cannot load
            page.locator("#host-button").click()
            assert page.locator("#host-button").inner_text() == "host works"
            # The browser may still hold the origin answer (a minute), and draw the launcher; the
            # chat page cannot load, so no panel shows and the launcher goes within seconds.
            page.wait_for_timeout(3000)
            assert page.locator("iframe:visible").count() == 0
            page.wait_for_timeout(6000)
            ours = [p for p in problems if "widget.js" not in p and "ERR_CONNECTION_REFUSED" not in p]
            assert ours == [], ours
            assert page.get_by_role("button", name=re.compile("Ask a question")).count() == 0
        finally:
            shop_server.start()
        context.close()


def test_post_messages_from_a_wrong_window_or_origin_are_ignored_both_ways(browser, shop_server):
    with HostPage({}) as evil_host, HostPage({}) as host:
        site = create_site(shop_server, host.origin)["site"]
        # A frame from another origin inside the shop's page tries to talk to both sides.
        evil_host.pages["/evil"] = """<!doctype html><script>
          setTimeout(function () {
            parent.postMessage({pc: 1, type: "unread", count: 99}, "*");
            parent.postMessage({pc: 1, type: "session", token: "evil-token"}, "*");
            for (var i = 0; i < parent.frames.length; i++) {
              parent.frames[i].postMessage({pc: 1, type: "hello", token: "evil-token", open: true}, "*");
            }
          }, 1500);</script>"""
        host.pages["/vase"] = product_page(
            shop_server.url, site, "vase-24", body=f'<iframe src="{evil_host.url("/evil")}" title="ad"></iframe>'
        )
        context = browser.new_context()
        page = context.new_page()
        page.goto(host.url("/vase"))
        widget = Widget(page).open()
        widget.send("Mine")
        token = page.evaluate("JSON.parse(localStorage.getItem('productchat:%s')).t" % site)
        page.wait_for_timeout(2500)
        assert not widget.badge.is_visible()  # the loader ignored the fake unread count
        assert page.evaluate("JSON.parse(localStorage.getItem('productchat:%s')).t" % site) == token
        # The chat ignored the fake hello: it still talks as the shopper, not as "evil-token".
        widget.send("Still mine")
        assert widget.own_texts() == ["Mine", "Still mine"]
        context.close()


def test_a_logged_in_customer_gets_one_history_across_devices(browser, shop_server):
    with HostPage({}) as host:
        site = create_site(shop_server, host.origin)["site"]
        secret = identity_secret(shop_server, site)
        stamp = str(int(time.time()))
        good = sign_identity(secret, "cust-7", "kim@example.com", stamp)
        attrs = (
            'data-customer-id="cust-7" data-customer-email="kim@example.com" '
            f'data-customer-timestamp="{stamp}" data-customer-signature="{{sig}}"'
        )
        host.pages["/signed"] = product_page(shop_server.url, site, "vase-24", extra_attrs=attrs.format(sig=good))
        host.pages["/forged"] = product_page(shop_server.url, site, "vase-24", extra_attrs=attrs.format(sig="0" * 64))
        laptop = browser.new_context()
        page = laptop.new_page()
        page.goto(host.url("/signed"))
        Widget(page).open().send("Asked on my laptop")
        phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
        mobile = phone.new_page()
        mobile.goto(host.url("/signed"))
        widget = Widget(mobile)
        widget.launcher.tap()
        widget.log.locator("li.own", has_text="Asked on my laptop").wait_for(timeout=10000)
        stranger = browser.new_context()
        other = stranger.new_page()
        other.goto(host.url("/forged"))
        forged = Widget(other).open()
        other.wait_for_timeout(1500)
        assert "Asked on my laptop" not in forged.log.inner_text()  # refused: anonymous, empty
        forged.send("Anonymous still works")
        for context in (laptop, phone, stranger):
            context.close()


def test_no_session_token_ever_appears_in_a_logged_url(browser, shop_server):
    with HostPage({}) as host:
        site = create_site(shop_server, host.origin)["site"]
        host.pages["/vase"] = product_page(shop_server.url, site, "vase-24")
        context = browser.new_context()
        page = context.new_page()
        page.goto(host.url("/vase"))
        widget = Widget(page).open()
        widget.send("Token check")
        page.reload()
        Widget(page).log.locator("li.own").wait_for()
        token = page.evaluate("JSON.parse(localStorage.getItem('productchat:%s')).t" % site)
        context.close()
    time.sleep(1)  # gunicorn writes the access log line when a request ends
    log = open(shop_server.env["ACCESS_LOG"]).read()
    assert "/embed/" + site in log and "stream?" in log or "stream-ticket" in log
    assert token and token not in log and token.split(".")[0] not in log


def test_the_demo_product_page_loads_at_most_10_kb_of_our_javascript_before_the_chat_opens(browser, shop_server):
    context = browser.new_context()
    page = context.new_page()
    scripts = {}
    page.on(
        "response", lambda r: scripts.__setitem__(r.url, len(r.body())) if r.request.resource_type == "script" else None
    )
    page.goto(shop_server.url + "/products/5")
    page.wait_for_load_state("networkidle")
    assert list(scripts) == [shop_server.url + "/widget.js"]
    assert sum(scripts.values()) <= 10 * 1024
    assert page.locator("iframe").count() == 0  # nothing more until the shopper opens the chat
    context.close()
