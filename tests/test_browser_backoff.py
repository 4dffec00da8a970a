"""Clients are good citizens of a failing network (DESIGN.md, decision 15): with our server
down, an open chat and an open admin page back off (one request chain per tab, a few
requests a minute, not more as time goes on), and when it is back they come back by
themselves, in the same tab. A minute of outage runs on Playwright's fake clock."""

import json
import re
import urllib.request

import pytest

from .browser import screenshot
from .host_page import HostPage, product_page
from .outage import Outage, pending_timers
from .test_browser_embed import admin_page, create_site
from .widget import LAUNCHER, Widget

pytestmark = pytest.mark.browser

# The schedule (static/js/backoff.js, widget.js): full jitter under a ceiling that doubles
# from 1 s up to 60 s. One chain of tries makes about 7 in its first minute (the ceilings
# 1, 2, 4, 8, 16 and 32 s add up to a minute) and 2 a minute after that; a page adds the
# few tries of its stream before it knows the server is gone, and its queued send.
MOST_IN_A_MINUTE = 20
MOST_IN_ITS_SECOND_HALF = 8
MOST_PENDING_TIMERS = 6


def stream_opened(response):
    return re.search(r"/stream\?", response.url) is not None and response.status == 200


def assert_backed_off(outage, page, frame=None):
    """A tab's requests in the outage's first minute, and its timers, stay within the schedule's budget."""
    counts = outage.per_window(page, seconds=10, until=60)
    described = f"requests per 10 s: {counts}, all: {outage.of(page)}"
    assert sum(counts) <= MOST_IN_A_MINUTE, described
    assert sum(counts[3:]) <= MOST_IN_ITS_SECOND_HALF, described  # not growing: fewer as time goes on
    assert pending_timers(frame or page.main_frame) <= MOST_PENDING_TIMERS


def test_an_open_chat_backs_off_while_we_are_down_and_comes_back_in_the_same_tab(browser, shop_server):
    with HostPage({}) as host:
        site = create_site(shop_server, host.origin)["site"]
        host.pages["/vase"] = product_page(shop_server.url, site, "vase-24")
        context = browser.new_context()
        outage = Outage(context, shop_server)
        page = context.new_page()
        page.goto(host.url("/vase"))
        widget = Widget(page).open()
        with page.expect_response(stream_opened):
            widget.send("Before the outage")
        chat = page.frame(url=re.compile(r".*/embed/.*/products/.*"))

        outage.begin(page)
        widget.send("Written while we were down", wait=False)
        outage.run(page, 30)
        assert pending_timers(chat) <= MOST_PENDING_TIMERS
        outage.run(page, 30)
        banner = widget.frame.locator("[data-offline]")
        assert banner.is_visible()  # "Reconnecting…", the whole minute
        assert widget.log.locator("li.msg.pending", has_text="Written while we were down").is_visible()
        assert_backed_off(outage, page, chat)

        outage.end()
        stored = widget.log.locator("li.msg.own:not(.pending)", has_text="Written while we were down")
        assert outage.run(page, 90, until=lambda: stored.count() == 1)  # sent by itself, within the backoff
        assert outage.run(page, 5, until=lambda: not banner.is_visible()) or not banner.is_visible()
        page.clock.resume()
        widget.send("And one after")
        assert widget.own_texts() == ["Before the outage", "Written while we were down", "And one after"]
        screenshot(page, "backoff-chat-back")
        context.close()


def test_a_page_opened_while_we_are_down_gets_its_chat_when_we_are_back(browser, shop_server):
    with HostPage({}) as host:
        site = create_site(shop_server, host.origin)["site"]
        host.pages["/vase"] = product_page(shop_server.url, site, "vase-24")
        context = browser.new_context()
        # The loader itself still comes from the browser's cache (it is cached for a day).
        outage = Outage(context, shop_server, cached=["/widget.js"])
        page = context.new_page()
        problems = []
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(host.url("/vase"))
        widget = Widget(page).open()
        widget.send("Asked before the outage")

        outage.begin(page)
        page.reload()  # the panel was open: it would open again
        outage.run(page, 60)
        launcher = page.get_by_role("button", name=LAUNCHER)
        assert launcher.count() == 0 and page.locator("iframe").count() == 0  # nothing half-drawn
        page.locator("#host-button").click()
        assert page.locator("#host-button").inner_text() == "host works"
        assert_backed_off(outage, page)

        outage.end()
        assert outage.run(page, 90, until=lambda: widget.box.count() == 1 and widget.box.is_visible())
        page.clock.resume()
        widget.log.locator("li.msg.own", has_text="Asked before the outage").wait_for()
        widget.send("Asked after it")
        assert problems == []
        # And it stays on: a reload in the same tab shows the chat again at once.
        page.reload()
        widget.box.wait_for()
        context.close()


def customer_asks(server, product_id, text):
    request = urllib.request.Request(
        f"{server.url}/api/products/{product_id}/messages",
        data=json.dumps({"message_text": text}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["inquiry_id"]


def test_open_admin_pages_back_off_while_we_are_down_and_come_back(browser, shop_server):
    inquiry_id = customer_asks(shop_server, 2, "Does the kettle whistle?")
    context, listing = admin_page(browser, shop_server)
    outage = Outage(context, shop_server)
    with listing.expect_response(stream_opened):
        listing.reload()  # on the fake clock
    page = context.new_page()
    with page.expect_response(stream_opened):
        page.goto(f"{shop_server.url}/admin/inquiries/{inquiry_id}")
    page.get_by_text("Does the kettle whistle?").wait_for()

    outage.begin(page)
    page.locator("#chat-text").fill("Yes, softly.")
    page.locator("#chat-text").press("Enter")
    outage.run(page, 60)
    banner = page.locator("[data-offline]")
    assert banner.is_visible()
    assert_backed_off(outage, page)  # the inquiry, with an answer waiting to be sent
    assert_backed_off(outage, listing)  # the list (its stream, then its refresh)

    outage.end()
    stored = page.locator("#chat-log li.msg.own:not(.pending)", has_text="Yes, softly.")
    assert outage.run(page, 90, until=lambda: stored.count() == 1)
    page.clock.resume()
    banner.wait_for(state="hidden")
    page.locator("#chat-text").fill("Anything else?")
    page.locator("#chat-text").press("Enter")
    page.locator("#chat-log li.msg.own:not(.pending)", has_text="Anything else?").wait_for()
    # The list is live again too: the answer moved the inquiry out of "Waiting for us".
    listing.locator(f"#inq-{inquiry_id}").wait_for(state="detached")
    context.close()


def set_hidden(page, hidden):
    """The tab goes to the background (or comes back), as far as the page can tell."""
    page.evaluate(
        "hidden => { Object.defineProperty(document, 'hidden', {value: hidden, configurable: true});"
        " document.dispatchEvent(new Event('visibilitychange')); }",
        hidden,
    )


def test_a_hidden_tab_makes_one_slow_probe_and_comes_back_when_shown(browser, shop_server):
    inquiry_id = customer_asks(shop_server, 3, "Is it machine washable?")
    context, page = admin_page(browser, shop_server)
    outage = Outage(context, shop_server)
    with page.expect_response(stream_opened):
        page.goto(f"{shop_server.url}/admin/inquiries/{inquiry_id}")
    outage.begin(page)
    outage.run(page, 60)
    set_hidden(page, True)
    seen = len(outage.of(page))
    outage.run(page, 600, step=5)  # ten minutes in the background
    in_background = outage.of(page)[seen:]
    # One slow probe every 2.5 to 5 minutes (and the one that was already due).
    assert len(in_background) <= 5, in_background
    assert pending_timers(page.main_frame) <= MOST_PENDING_TIMERS

    outage.end()
    banner = page.locator("[data-offline]")
    assert banner.is_visible()
    set_hidden(page, False)  # shown again: it asks at once, and is back
    assert outage.run(page, 5, until=lambda: not banner.is_visible())
    page.clock.resume()
    page.locator("#chat-text").fill("Yes, at 30 degrees.")
    page.locator("#chat-text").press("Enter")
    page.locator("#chat-log li.msg.own:not(.pending)", has_text="Yes, at 30 degrees.").wait_for()
    context.close()
