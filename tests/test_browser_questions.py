"""Product Q&A end to end in a real browser: an admin publishes an answer from an inquiry,
a fresh shopper finds it on the product page and as a suggestion while typing in the
widget, opens it, and the admin sees which suggestion that shopper read."""

import re

import pytest

from .browser import screenshot
from .test_browser_inbox import customer_says, log_in, watch_console
from .widget import Widget, last_inquiry_id

pytestmark = pytest.mark.browser

PRIVATE = "I live at 5 Oak Road"


def test_published_answer_reaches_the_next_shopper_and_the_admin_sees_it_read(browser, shop_server):
    inquiry_id, _ = customer_says(shop_server, 1, f"Is the backpack waterproof? {PRIVATE}")
    admin_context = browser.new_context(viewport={"width": 1280, "height": 900})
    admin = log_in(admin_context, shop_server)
    admin_problems = watch_console(admin)
    admin.goto(f"{shop_server.url}/admin/inquiries/{inquiry_id}")
    card = admin.locator("#qa-card")
    card.get_by_text("Publish as Q&A").click()
    question_box = card.get_by_label("Public question")
    # Prefilled with what the customer wrote: the admin edits the private part out.
    assert PRIVATE in question_box.input_value()
    question_box.fill("Is the backpack waterproof?")
    card.get_by_label("Public answer").fill("It is water-resistant; a rain cover is in the bottom pocket.")
    card.get_by_role("button", name="Publish").click()
    card.get_by_text("Published from this inquiry").wait_for()
    assert card.locator(".qa-entry").count() == 1

    # A fresh shopper: the product page lists it; no private text anywhere.
    shopper_context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = shopper_context.new_page()
    shopper_problems = watch_console(page)
    page.goto(shop_server.url + "/products/1")
    section = page.locator("#questions")
    assert "Questions & answers (1)" in section.locator("h2").inner_text()
    assert "Is the backpack waterproof?" in section.inner_text() and PRIVATE not in page.content()
    section.scroll_into_view_if_needed()
    screenshot(page, "qa-product-page")

    # While typing in the widget, the answer is suggested; opening it shows the answer.
    widget = Widget(page).open()
    widget.box.press_sequentially("Will it stay dry in the rain", delay=40)
    suggestion = widget.frame.locator("#chat-suggestions details.suggestion")
    suggestion.first.wait_for()
    assert "Others asked" in widget.frame.locator("#chat-suggestions").inner_text()
    assert suggestion.count() == 1
    with page.expect_response(re.compile(r"/suggestions/\d+/open$")) as opened:
        suggestion.locator("summary").click()
    assert opened.value.status == 204
    answer = suggestion.locator(".suggestion-answer")
    assert answer.is_visible() and "rain cover is in the bottom pocket" in answer.inner_text()
    screenshot(page, "qa-suggestion")

    # Its own page: the question, the answer, and QAPage markup a crawler can read.
    question_page = shopper_context.new_page()
    question_page.goto(shop_server.url + "/products/1")
    question_page.locator("#questions").get_by_role("link", name="Is the backpack waterproof?").click()
    question_page.locator("h1", has_text="Is the backpack waterproof?").wait_for()
    ld = question_page.evaluate("JSON.parse(document.querySelector('script[type=\"application/ld+json\"]').text)")
    assert ld["@type"] == "QAPage" and ld["mainEntity"]["acceptedAnswer"]["text"].startswith("It is water-resistant")
    screenshot(question_page, "qa-question-page")
    question_page.close()

    # They still ask (typing keeps working); sending clears the suggestions.
    widget.box.fill("")
    widget.send("Thanks! Is the rain cover included?")
    widget.frame.locator("#chat-suggestions details").first.wait_for(state="detached")

    # The admin sees, on that shopper's inquiry, which suggestion they opened.
    new_inquiry = last_inquiry_id(shop_server)
    assert new_inquiry != inquiry_id
    admin.goto(f"{shop_server.url}/admin/inquiries/{new_inquiry}")
    opened_list = admin.locator("#qa-card .qa-views")
    assert "Is the backpack waterproof?" in opened_list.inner_text()
    opened_list.scroll_into_view_if_needed()
    screenshot(admin, "qa-admin-opened")
    assert admin_problems == [] and shopper_problems == []
