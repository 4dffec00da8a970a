"""Live delivery in a real browser: other tabs, the shop's answers, polling when SSE is blocked."""
import re

import pytest

from .browser import screenshot
from .test_browser_customer import admin_reply, open_widget

pytestmark = pytest.mark.browser


def needs_redis(server):
    if not server.has_redis:
        pytest.skip("answers from another process need Redis")


def test_other_tab_and_shop_answers_arrive_live(browser, shop_server):
    needs_redis(shop_server)
    context = browser.new_context()
    tab_a, tab_b = context.new_page(), context.new_page()
    tab_a.goto(shop_server.url + "/products/1")
    open_widget(tab_a)
    tab_a.locator(".chat-panel textarea").fill("First question")
    tab_a.locator(".chat-panel textarea").press("Enter")
    tab_a.locator(".chat-log li.msg.own .mark-sent").wait_for()

    tab_b.goto(shop_server.url + "/products/1")
    open_widget(tab_b)
    tab_a.bring_to_front()
    tab_a.locator(".chat-panel textarea").fill("Sent from tab A")
    tab_a.locator(".chat-panel textarea").press("Enter")
    # Tab B shows it without a reload, once.
    tab_b.locator(".chat-log li.msg.own", has_text="Sent from tab A").wait_for(timeout=5000)
    assert tab_b.locator(".chat-log li.msg.own", has_text="Sent from tab A").count() == 1
    assert tab_a.locator(".chat-log li.msg.own", has_text="Sent from tab A").count() == 1

    # The shop answers: it appears live in the open panel.
    admin_reply(shop_server, 1, "Live answer from the shop")
    tab_a.locator(".chat-log li.msg.theirs", has_text="Live answer from the shop").wait_for(timeout=5000)
    screenshot(tab_a, "live-answer")

    # With the panel closed, the badge counts a new answer live.
    tab_a.get_by_role("button", name="Close chat").click()
    admin_reply(shop_server, 1, "One more thing")
    badge = tab_a.locator("#chat-badge")
    badge.wait_for(state="visible", timeout=5000)
    assert badge.inner_text() == "1"
    context.close()


def test_with_sse_blocked_polling_still_delivers(browser, shop_server):
    needs_redis(shop_server)
    context = browser.new_context()
    context.route(re.compile(r".*/chat/stream.*"), lambda route: route.abort())
    page = context.new_page()
    page.goto(shop_server.url + "/products/4")
    open_widget(page)
    page.locator(".chat-panel textarea").fill("Is it induction ready?")
    page.locator(".chat-panel textarea").press("Enter")
    page.locator(".chat-log li.msg.own .mark-sent").wait_for()
    page.locator(".chat-panel-inner.polling").wait_for(state="attached", timeout=10000)
    admin_reply(shop_server, 1, "Yes, it works on induction.")  # the fresh server's first inquiry
    page.locator(".chat-log li.msg.theirs", has_text="Yes, it works on induction.").wait_for(timeout=8000)
    assert page.locator(".chat-log li.msg.theirs", has_text="Yes, it works on induction.").count() == 1
    screenshot(page, "polling-fallback")
    context.close()
