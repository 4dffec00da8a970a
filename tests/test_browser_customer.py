"""A shopper's whole flow on the demo shop, through the same one-tag widget every shop embeds."""

import re

import pytest

from .browser import screenshot
from .widget import Widget, admin_reply, last_inquiry_id

pytestmark = pytest.mark.browser


def test_customer_flow_history_escaping_badge_and_background_title(browser, shop_server):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(shop_server.url + "/products/1")
    widget = Widget(page)
    widget.launcher.wait_for()  # the loader draws it once its script ran (later on a busy machine)
    widget.open()
    assert "Trailhead 35L Hiking Backpack" in widget.frame.locator("h1").inner_text()
    assert "Ask us anything about the Trailhead 35L Hiking Backpack" in widget.log.inner_text()
    assert widget.launcher.get_attribute("aria-expanded") == "true"

    widget.send("Does it fit a 15 inch laptop?")
    # The email option appears at once, no reload needed.
    widget.frame.get_by_text("Get answers by email").wait_for()
    widget.box.type("Two lines:")
    widget.box.press("Shift+Enter")
    widget.box.type("line two")
    assert "\n" in widget.box.input_value()  # Shift+Enter is a new line, not a send
    widget.box.press("Enter")
    widget.log.locator("li.msg.own:not(.pending)").nth(1).wait_for()
    widget.send("<script>alert(1)</script>")
    assert widget.own_texts()[1] == "Two lines:\nline two"
    screenshot(page, "customer-chat-desktop")

    # Reload: the panel stays open and the history is there; nothing ran as script.
    page.reload()
    widget.box.wait_for()
    widget.log.locator("li.msg.own").nth(2).wait_for()
    assert widget.own_texts() == ["Does it fit a 15 inch laptop?", "Two lines:\nline two", "<script>alert(1)</script>"]
    assert dialogs == []

    # The shop answers while the panel is closed: the launcher's badge counts it, live.
    widget.close()
    if shop_server.has_redis:
        # A shopper in a background tab sees it in the title.
        page.evaluate("Object.defineProperty(document, 'hidden', {value: true, configurable: true})")
        admin_reply(shop_server, last_inquiry_id(shop_server), "Yes, the sleeve takes up to 15.6 inches.")
        widget.badge.wait_for(state="visible", timeout=8000)
        assert widget.badge.inner_text() == "1"
        assert page.title().startswith("(1) New answer")
        page.evaluate(
            "Object.defineProperty(document, 'hidden', {value: false, configurable: true});"
            "document.dispatchEvent(new Event('visibilitychange'))"
        )
        assert not page.title().startswith("(1)")
    else:
        admin_reply(shop_server, last_inquiry_id(shop_server), "Yes, the sleeve takes up to 15.6 inches.")
        page.reload()
        widget.badge.wait_for(state="visible", timeout=8000)
    screenshot(page, "customer-badge")
    widget.open()
    assert "Yes, the sleeve takes up to 15.6 inches." in widget.log.inner_text()
    assert "Demo Shop" in widget.log.locator("li.theirs .who").last.inner_text()  # never an account name
    widget.badge.wait_for(state="hidden")
    context.close()


def test_messages_written_while_the_server_is_down_send_themselves_in_order(browser, shop_server):
    context = browser.new_context()
    page = context.new_page()
    page.goto(shop_server.url + "/products/2")
    widget = Widget(page).open()
    widget.send("Is the mug included?")
    shop_server.stop()
    banner = widget.frame.locator("[data-offline]")
    widget.send("First while offline", wait=False)
    widget.send("Second while offline", wait=False)
    banner.wait_for(state="visible", timeout=15000)
    waiting = widget.log.locator("li.msg.pending")
    # Each shows it is not sent yet: waiting, or "Sending…" while the chat's next try is on its way.
    assert waiting.count() == 2
    assert all(re.search("Waiting to send|Sending…", text) for text in waiting.all_inner_texts())
    screenshot(page, "customer-offline-banner")
    shop_server.start()
    # The chat's next try comes within its backoff ceiling (60 s at most): on a loaded machine
    # the server's stop and start alone can take long enough for the ceiling to reach 32 s.
    widget.log.locator("li.msg.own:not(.pending)", has_text="Second while offline").wait_for(timeout=75000)
    banner.wait_for(state="hidden", timeout=15000)
    page.reload()
    widget.log.locator("li.msg.own").nth(2).wait_for()
    assert widget.own_texts() == ["Is the mug included?", "First while offline", "Second while offline"]
    context.close()


def test_phone_viewport_fills_the_screen_enter_adds_a_line(browser, shop_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.goto(shop_server.url + "/products/3")
    widget = Widget(page)
    widget.launcher.tap()
    widget.box.wait_for()
    frame_box = page.locator("iframe[title='Chat with the shop']").bounding_box()
    assert frame_box == {"x": 0, "y": 0, "width": 390, "height": 844}
    assert not widget.frame.get_by_text("Shift+Enter").is_visible()  # no keyboard hint on a touch keyboard
    widget.box.fill("Which size")
    widget.box.press("Enter")
    assert "\n" in widget.box.input_value()  # Enter is a new line on a phone
    widget.box.type("for 1.80 m?")
    widget.frame.get_by_role("button", name="Send").tap()
    widget.log.locator("li.msg.own:not(.pending)").wait_for()
    assert widget.own_texts() == ["Which size\nfor 1.80 m?"]
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "customer-chat-phone")
    widget.frame.get_by_role("button", name="Close chat").tap()
    widget.launcher.wait_for(state="visible")
    context.close()


def test_one_shopper_many_products_email_badge_and_questions(browser, shop_server):
    context = browser.new_context(viewport={"width": 1280, "height": 860})
    page = context.new_page()
    page.goto(shop_server.url + "/products/1")
    widget = Widget(page).open()
    widget.send("Backpack question")
    widget.frame.get_by_text("Get answers by email").click()
    widget.frame.get_by_label("Email", exact=True).fill("ann@example.com")
    widget.frame.get_by_role("checkbox").check()
    widget.frame.get_by_role("button", name="Save email").click()
    widget.frame.get_by_text("We'll email ann@example.com").wait_for()
    backpack = last_inquiry_id(shop_server)

    # Another product page: the panel is still open, and knows the shopper's email.
    page.goto(shop_server.url + "/products/2")
    widget = Widget(page)
    widget.box.wait_for()
    widget.send("Coffee maker question")
    widget.frame.get_by_text("We'll email ann@example.com").wait_for()
    widget.close()

    # An answer about the backpack counts on the coffee maker's page too.
    admin_reply(shop_server, backpack, "Backpack answer")
    if not shop_server.has_redis:
        page.reload()
    widget.badge.wait_for(state="visible", timeout=8000)
    assert widget.badge.inner_text() == "1"
    widget.open()
    widget.frame.get_by_role("button", name="Your questions").click()
    questions = widget.frame.locator("#your-questions")
    questions.get_by_text("Trailhead 35L Hiking Backpack").wait_for()
    assert "1 new" in questions.inner_text() and "(this page)" in questions.inner_text()
    screenshot(page, "customer-your-questions")
    context.close()


def test_an_email_offer_being_filled_in_stays_open_when_the_conversation_reloads(browser, shop_server):
    # The first message makes the session, and the chat then reloads its conversation (to start
    # its stream). On a slow network that reload lands while the shopper is already typing an
    # address into the email offer: it must not close the form and drop what they typed.
    context = browser.new_context()
    page = context.new_page()
    page.goto(shop_server.url + "/products/1")
    widget = Widget(page).open()
    widget.log.get_by_text("Ask us anything").wait_for()  # the first load is in
    held = []
    page.route("**/conversation*", lambda route: held.append(route))  # the reload waits, as on a slow network
    widget.send("Backpack question")
    widget.frame.get_by_text("Get answers by email").click()
    email = widget.frame.get_by_label("Email", exact=True)
    email.fill("ann@exa")
    for _ in range(100):
        if held:
            break
        page.wait_for_timeout(50)
    assert len(held) == 1, "the chat reloads its conversation after the first message"
    with page.expect_response("**/conversation*"):
        held[0].continue_()
    page.unroute("**/conversation*")
    # Swapped in (htmx swaps the email offer, out of band, before the conversation itself).
    widget.frame.locator(".live[sse-connect], .live[data-sse=off]").wait_for(state="attached")
    assert widget.frame.locator("#chat-email details").evaluate("details => details.open")
    assert email.input_value() == "ann@exa"
    email.fill("ann@example.com")
    widget.frame.get_by_role("checkbox").check()
    widget.frame.get_by_role("button", name="Save email").click()
    widget.frame.get_by_text("We'll email ann@example.com").wait_for()
    context.close()
