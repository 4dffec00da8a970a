"""A shopper's whole flow in a real browser (Chromium via Playwright)."""
import os
import re
import subprocess

import pytest

from .browser import screenshot
from .live_server import BIN, ROOT

pytestmark = pytest.mark.browser


def admin_reply(server, inquiry_id, text):
    subprocess.run([os.path.join(BIN, "flask"), "--app", "wsgi", "chat", "reply", str(inquiry_id), text],
                   env=server.env, cwd=ROOT, check=True, capture_output=True)


def open_widget(page):
    page.get_by_role("button", name=re.compile("Ask a question")).click()
    page.locator(".chat-panel textarea").wait_for()


def test_customer_flow_history_escaping_badge(browser, shop_server):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(shop_server.url + "/products/1")
    launcher = page.get_by_role("button", name=re.compile("Ask a question"))
    assert launcher.is_visible()
    open_widget(page)
    panel = page.locator(".chat-panel")
    assert "Trailhead 35L Hiking Backpack" in panel.locator("h2").inner_text()
    assert "Ask us anything about the Trailhead 35L Hiking Backpack" in panel.inner_text()
    assert launcher.get_attribute("aria-expanded") == "true"

    box = page.locator(".chat-panel textarea")
    box.fill("Does it fit a 15 inch laptop?")
    box.press("Enter")
    own = page.locator(".chat-log li.msg.own")
    own.nth(0).locator(".mark-sent").wait_for()
    box.type("Two lines:")
    box.press("Shift+Enter")
    box.type("line two")
    assert "\n" in box.input_value()  # Shift+Enter is a new line, not a send
    box.press("Enter")
    own.nth(1).locator(".mark-sent").wait_for()
    assert own.nth(1).locator(".text").inner_text() == "Two lines:\nline two"
    box.fill("<script>alert(1)</script>")
    box.press("Enter")
    own.nth(2).locator(".mark-sent").wait_for()
    assert own.nth(2).locator(".text").inner_text() == "<script>alert(1)</script>"
    screenshot(page, "customer-chat-desktop")

    # Reload: the history is there; nothing ran as script.
    page.reload()
    open_widget(page)
    texts = page.locator(".chat-log li.msg.own .text").all_inner_texts()
    assert texts == ["Does it fit a 15 inch laptop?", "Two lines:\nline two", "<script>alert(1)</script>"]
    assert dialogs == []

    # The shop answers while the panel is closed: the badge counts it.
    page.get_by_role("button", name="Close chat").click()
    admin_reply(shop_server, 1, "Yes, the sleeve takes up to 15.6 inches.")
    page.reload()
    badge = page.locator("#chat-badge")
    assert badge.is_visible() and badge.inner_text() == "1"
    screenshot(page, "customer-badge")
    open_widget(page)
    assert "Yes, the sleeve takes up to 15.6 inches." in page.locator(".chat-log").inner_text()
    page.wait_for_function("document.getElementById('chat-badge').hidden")
    page.reload()
    assert not page.locator("#chat-badge").is_visible()
    context.close()


def test_failed_send_keeps_the_text_and_retry_sends_it_once(browser, shop_server):
    context = browser.new_context()
    page = context.new_page()
    page.goto(shop_server.url + "/products/2")
    open_widget(page)
    fail = {"on": True}

    def maybe_fail(route):
        if fail["on"]:
            route.abort("internetdisconnected")
        else:
            route.continue_()

    page.route("**/chat/messages", maybe_fail)
    box = page.locator(".chat-panel textarea")
    box.fill("Is the mug included?")
    box.press("Enter")
    failed = page.locator(".chat-log li.msg.failed")
    failed.wait_for()
    assert "Not sent" in failed.inner_text()
    assert failed.locator(".text").inner_text() == "Is the mug included?"
    screenshot(page, "customer-not-sent")
    fail["on"] = False
    failed.get_by_role("button", name="Retry").click()
    page.locator(".chat-log li.msg.own .mark-sent").wait_for()
    page.reload()
    open_widget(page)
    assert page.locator(".chat-log li.msg.own .text").all_inner_texts() == ["Is the mug included?"]
    context.close()


def test_phone_viewport_fills_the_screen_and_works_by_keyboard(browser, shop_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(shop_server.url + "/products/3")
    launcher = page.get_by_role("button", name=re.compile("Ask a question"))
    launcher.focus()
    page.keyboard.press("Enter")
    page.locator(".chat-panel textarea").wait_for()
    box = page.locator(".chat-panel").bounding_box()
    assert box["x"] == 0 and box["y"] == 0 and box["width"] == 390 and box["height"] == 844
    page.keyboard.type("Which size for 1.80 m?")
    page.keyboard.press("Enter")
    page.locator(".chat-log li.msg.own .mark-sent").wait_for()
    screenshot(page, "customer-chat-phone")
    page.keyboard.press("Escape")
    assert page.locator(".chat-panel").is_hidden()
    context.close()
