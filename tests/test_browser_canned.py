"""In a real browser: an admin inserts a canned reply with "/ship" and Enter, writes a private
note the shopper never sees (and that sends no typing signal), resolves; the shopper rates in the
widget and the admin sees the rating arrive."""

import re

import pytest

from .browser import screenshot
from .test_browser_embed import admin_page, errors_of
from .widget import Widget, last_inquiry_id

pytestmark = pytest.mark.browser

FILLED = "Hi there, the Trailhead 35L Hiking Backpack (129.00 EUR) ships within 2 working days from Demo Shop."


def test_canned_reply_private_note_and_rating(browser, shop_server):
    admin_context, admin = admin_page(browser, shop_server)
    admin_problems = errors_of(admin)
    # A canned reply, made on its admin page (linked from the nav).
    admin.get_by_role("link", name="Canned replies").click()
    admin.wait_for_url(re.compile(r".*/admin/canned$"))
    admin.fill("#new-title", "Shipping time")
    admin.fill("#new-shortcut", "ship")
    admin.fill(
        "#new-text", "Hi {customer_first_name}, the {product} ({price}) ships within 2 working days from {shop}."
    )
    admin.get_by_role("button", name="Save canned reply").click()
    admin.locator(".canned-replies").get_by_text("/ship").wait_for()

    shopper_context = browser.new_context(viewport={"width": 1280, "height": 860})
    shop = shopper_context.new_page()
    shop.goto(shop_server.url + "/products/1")
    widget = Widget(shop).open()
    widget.send("When would it ship to Lyon?")
    inquiry_id = last_inquiry_id(shop_server)

    admin.goto(f"{shop_server.url}/admin/inquiries/{inquiry_id}")
    box = admin.locator("#chat-text")
    box.click()
    box.press_sequentially("/sh", delay=40)
    option = admin.locator("#canned-list [role=option]").first
    option.wait_for()
    box.press("Escape")  # closes the list, keeps what was typed
    option.wait_for(state="detached")
    assert box.input_value() == "/sh"
    box.press_sequentially("i", delay=40)
    option.wait_for()
    assert "/ship" in option.inner_text() and option.get_attribute("aria-selected") == "true"
    screenshot(admin, "canned-replies")
    box.press("Enter")  # picks the reply: does not send
    assert box.input_value() == FILLED
    assert admin.locator("#canned-list").is_hidden()
    assert admin.locator("#chat-log li.msg.own").count() == 0

    # A private note, typed like a person would: no typing signal goes out for it.
    typing_posts = []
    admin.on("request", lambda r: typing_posts.append(r.url) if r.url.endswith("/typing") else None)
    admin.get_by_text("Private note", exact=True).click()
    admin.locator("#note-text").press_sequentially("Regular customer: offer express shipping NOTE-7731", delay=20)
    admin.get_by_role("button", name="Add note").click()
    note = admin.locator("#chat-log li.msg.note", has_text="NOTE-7731")
    note.wait_for()
    assert note.locator(".note-label").text_content().startswith("Private note")
    assert typing_posts == []
    assert admin.locator("#note-text").input_value() == ""

    # The filled answer, edited a little, goes out with Enter.
    box.press("End")
    box.press_sequentially(" Tracking follows by email.", delay=10)
    box.press("Enter")
    widget.log.get_by_text("Tracking follows by email.").wait_for()
    assert widget.answers()[-1] == FILLED + " Tracking follows by email."
    screenshot(admin, "private-note")
    assert "NOTE-7731" not in widget.log.inner_text() and "Private note" not in widget.log.inner_text()

    # Resolved: the shopper rates in one tap, the admin sees it without reloading.
    admin.select_option("#control-status", "resolved")
    rate_good = widget.frame.get_by_role("button", name="Good", exact=True)
    rate_good.wait_for()
    assert "Marked as answered" in widget.log.inner_text()
    rate_good.click()
    widget.frame.get_by_text("Thanks! You rated this answer").wait_for()
    assert rate_good.get_attribute("aria-pressed") == "true"
    screenshot(shop, "rating")
    admin.locator("#inquiry-rating").get_by_text("✓ Good").wait_for()
    admin.locator("#inquiry-rating").scroll_into_view_if_needed()
    screenshot(admin, "rating-admin")
    assert "NOTE-7731" not in widget.log.inner_text()
    assert admin_problems == []
    admin_context.close()
    shopper_context.close()
