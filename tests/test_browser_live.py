"""Live delivery in a real browser: other tabs, the shop's answers, polling when SSE is blocked."""

import re

import pytest

from .browser import screenshot
from .widget import Widget, admin_reply, last_inquiry_id

pytestmark = pytest.mark.browser


def needs_redis(server):
    if not server.has_redis:
        pytest.skip("answers from another process need Redis")


def test_other_tab_and_shop_answers_arrive_live(browser, shop_server):
    needs_redis(shop_server)
    context = browser.new_context()
    tab_a, tab_b = context.new_page(), context.new_page()
    tab_a.goto(shop_server.url + "/products/1")
    a = Widget(tab_a).open()
    a.send("First question")

    tab_b.goto(shop_server.url + "/products/1")
    b = Widget(tab_b).open()
    tab_a.bring_to_front()
    a.send("Sent from tab A")
    # Tab B shows it without a reload, once.
    b.log.locator("li.msg.own", has_text="Sent from tab A").wait_for(timeout=8000)
    assert b.log.locator("li.msg.own", has_text="Sent from tab A").count() == 1
    assert a.log.locator("li.msg.own", has_text="Sent from tab A").count() == 1

    # The shop answers: it appears live in the open panel, once.
    admin_reply(shop_server, last_inquiry_id(shop_server), "Live answer from the shop")
    a.log.locator("li.msg.theirs", has_text="Live answer from the shop").wait_for(timeout=8000)
    assert a.answers() == ["Live answer from the shop"]
    screenshot(tab_a, "live-answer")

    # With the panel closed (in both tabs: an open one would read it), the badge counts a new answer live.
    tab_b.close()
    a.close()
    admin_reply(shop_server, last_inquiry_id(shop_server), "One more thing")
    a.badge.wait_for(state="visible", timeout=8000)
    assert a.badge.inner_text() == "1"
    context.close()


def test_with_sse_blocked_polling_still_delivers(browser, shop_server):
    needs_redis(shop_server)
    context = browser.new_context()
    context.route(re.compile(r".*/embed/demo/stream\?.*"), lambda route: route.abort())
    page = context.new_page()
    page.goto(shop_server.url + "/products/4")
    widget = Widget(page).open()
    widget.send("Is it induction ready?")
    widget.frame.locator("html.polling").wait_for(state="attached", timeout=20000)
    admin_reply(shop_server, last_inquiry_id(shop_server), "Yes, it works on induction.")
    widget.log.locator("li.msg.theirs", has_text="Yes, it works on induction.").wait_for(timeout=10000)
    assert widget.answers() == ["Yes, it works on induction."]
    # Marks move on by polling too: the shop read the question.
    screenshot(page, "polling-fallback")
    context.close()


def test_delivered_shows_live_both_ways(browser, shop_server):
    """The shopper's message turns "Delivered" while the admin has only the list open; the
    admin's answer turns "Delivered" on the inquiry page while the shopper's widget is open
    (its panel closed, so not read yet)."""
    from .test_browser_admin import admin_page

    admin_context, admin = admin_page(browser, shop_server)  # the list, "Waiting for us"
    customer_context = browser.new_context()
    customer = customer_context.new_page()
    customer.goto(shop_server.url + "/products/6")
    widget = Widget(customer).open()
    widget.send("Does it fit a 15-inch laptop?")
    own = widget.log.locator("li.msg.own", has_text="Does it fit a 15-inch laptop?")
    own.locator(".mark-delivered").wait_for(timeout=8000)
    assert "Delivered" in own.inner_text()
    screenshot(customer, "delivered-shopper")

    widget.close()
    admin.locator("#inquiry-rows tr.inquiry-row a").first.click()
    admin.locator("#chat-text").fill("Yes, up to 16 inches.")
    admin.locator("#chat-text").press("Enter")
    answer = admin.locator(".chat-log li.msg.own", has_text="Yes, up to 16 inches.")
    answer.locator(".mark-delivered").wait_for(timeout=8000)
    assert "Delivered" in answer.inner_text()
    screenshot(admin, "delivered-admin")
    customer_context.close()
    admin_context.close()
