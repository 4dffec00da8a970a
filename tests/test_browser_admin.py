"""A customer and an admin on the same server, each in their own browser context."""

import re

import pytest

from .browser import screenshot
from .widget import Widget

pytestmark = pytest.mark.browser


def admin_page(browser, server):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(server.url + "/admin")
    page.fill("#email", "admin@example.com")
    page.fill("#password", server.admin_password)
    page.click("button[type=submit]")
    page.wait_for_url(re.compile(r".*/admin$"))
    return context, page


def test_admin_sees_the_inquiry_arrive_answers_live_and_resolves(browser, shop_server):
    customer_context = browser.new_context()
    customer = customer_context.new_page()
    admin_context, admin = admin_page(browser, shop_server)
    rows = admin.locator("#inquiry-rows tr.inquiry-row")
    assert rows.count() == 0

    # A customer asks: the admin's list gets the row live, and the tab title counts it.
    customer.goto(shop_server.url + "/products/5")
    widget = Widget(customer).open()
    widget.send("Do these <b>headphones</b> fold flat?")
    rows.first.wait_for(timeout=8000)
    assert "Noise-Cancelling Headphones" in rows.first.inner_text()
    assert "Do these <b>headphones</b> fold flat?" in rows.first.inner_text()
    admin.wait_for_function("document.title.startsWith('(1)')")
    screenshot(admin, "admin-list")

    # The admin opens it; the customer's message is delivered, then read.
    rows.first.locator("a").click()
    admin.locator("#chat-text").wait_for()
    widget.log.locator("li.msg.own .mark-read").wait_for(timeout=8000)

    # Typing shows on the other side, both ways.
    admin.locator("#chat-text").type("Yes, they fold")
    widget.frame.locator(".typing .typing-note").wait_for(timeout=5000)
    assert "The shop is typing" in widget.frame.locator(".typing").inner_text()
    widget.box.type("thanks in advance", delay=200)  # as a person types: past the 2.5 s signal throttle
    admin.locator(".typing .typing-note").wait_for(timeout=5000)
    assert "The customer is typing" in admin.locator(".typing").inner_text()
    widget.box.fill("")

    # The answer arrives live; the customer has it open, so it turns "read" for the admin.
    admin.locator("#chat-text").type(" flat and come with a case.")
    admin.locator("#chat-text").press("Enter")
    answer = widget.log.locator("li.msg.theirs", has_text="Yes, they fold flat and come with a case.")
    answer.wait_for(timeout=5000)
    assert "Demo Admin" not in answer.inner_text() and "Demo Shop" in answer.inner_text()
    admin.locator(".chat-log li.msg.own .mark-read").wait_for(timeout=8000)

    # The admin resolves it: the admins' note names them; the customer gets one friendly line, live.
    admin.select_option("select[name=status]", "resolved")
    admin.locator(".chat-log li.msg.system", has_text="Marked resolved by Demo Admin").wait_for(timeout=5000)
    widget.log.locator("li.msg.system", has_text="Marked as answered").wait_for(timeout=5000)
    assert "Demo Admin" not in widget.log.inner_text() and "in progress" not in widget.log.inner_text()
    screenshot(admin, "admin-inquiry")
    screenshot(customer, "customer-after-resolve")
    customer_context.close()
    admin_context.close()


def test_account_page_public_name_sessions_and_log_out_everywhere(browser, shop_server):
    other_context, other = admin_page(browser, shop_server)
    context, page = admin_page(browser, shop_server)
    page.click("nav >> text=Account")
    page.wait_for_url(re.compile(r".*/admin/account$"))
    rows = page.locator("table.sessions tbody tr")
    assert rows.count() == 2
    assert "(this device)" in page.locator("table.sessions tr.current").inner_text()
    assert "Chrome" in page.locator("table.sessions tr.current").inner_text()

    page.fill("#public-name", "Anna <from> support")
    page.click("text=Save name")
    page.locator(".flash", has_text="Your public name is saved.").wait_for()
    assert page.input_value("#public-name") == "Anna <from> support"
    screenshot(page, "admin-account")
    page.locator("table.sessions").scroll_into_view_if_needed()
    screenshot(page, "admin-account-sessions")

    page.click("text=Log out everywhere")
    page.wait_for_url(re.compile(r".*/admin/login$"))
    assert "You are logged out everywhere (2 sessions ended)." in page.locator(".flash").inner_text()
    other.reload()
    other.wait_for_url(re.compile(r".*/admin/login.*"))
    context.close()
    other_context.close()
