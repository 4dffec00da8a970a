"""The widget in German and in Arabic on another shop's page (the chat on 127.0.0.1, the shop
on localhost): the tag's data-locale, then the browser's languages; right to left for Arabic."""

import os
import shutil

import pytest

from .browser import ARTIFACTS, screenshot
from .host_page import HostPage, product_page
from .test_browser_embed import create_site
from .widget import admin_reply, last_inquiry_id

pytestmark = pytest.mark.browser

SCREENSHOTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "docs", "screenshots")


def keep(page, name):
    """A screenshot for the docs (test-artifacts/, copied to docs/screenshots/)."""
    screenshot(page, name)
    os.makedirs(SCREENSHOTS, exist_ok=True)
    shutil.copy(os.path.join(ARTIFACTS, name + ".png"), os.path.join(SCREENSHOTS, name + ".png"))


def chat(page):
    return page.frame_locator("iframe")


def test_the_shop_sets_german_on_the_tag_and_the_whole_chat_speaks_it(browser, shop_server):
    with HostPage({}) as host:
        site = create_site(shop_server, host.origin)["site"]
        host.pages["/vase"] = product_page(shop_server.url, site, "vase-24", extra_attrs='data-locale="de"')
        context = browser.new_context(locale="en-US", viewport={"width": 1100, "height": 760})
        page = context.new_page()
        page.goto(host.url("/vase"))
        launcher = page.get_by_role("button", name="Frage stellen")  # the tag wins over the browser's English
        launcher.click()
        frame = chat(page)
        box = frame.get_by_placeholder("Ihre Frage eingeben…")
        box.wait_for()
        assert page.locator("iframe").get_attribute("title") == "Chat mit dem Shop"
        assert frame.locator("html").get_attribute("lang") == "de"
        assert "Hallo! Fragen Sie uns alles" in frame.locator("#chat-log").inner_text()
        box.fill("Ist die Vase spülmaschinenfest?")
        box.press("Enter")
        frame.locator("li.msg.own:not(.pending) .mark-label").first.wait_for()
        assert frame.locator("li.msg.own .mark-label").first.inner_text() in ("Gesendet", "Zugestellt", "Gelesen")
        admin_reply(shop_server, last_inquiry_id(shop_server), "Ja, bis 60 °C.")
        frame.locator("li.msg.theirs:not(.welcome)", has_text="Ja, bis 60 °C.").wait_for(timeout=15000)
        frame.get_by_text("Antworten per E-Mail erhalten").wait_for()
        keep(page, "languages-de-foreign-host")
        context.close()


def test_an_arabic_browser_chats_right_to_left_with_the_launcher_on_the_left(browser, shop_server):
    with HostPage({}) as host:
        site = create_site(shop_server, host.origin)["site"]
        host.pages["/vase"] = product_page(shop_server.url, site, "vase-24")
        context = browser.new_context(locale="ar-EG", viewport={"width": 1100, "height": 760})
        page = context.new_page()
        page.goto(host.url("/vase"))
        launcher = page.get_by_role("button", name="اطرح سؤالًا")  # navigator.languages, negotiated
        launcher.wait_for()
        box = launcher.bounding_box()
        assert box["x"] + box["width"] < 1100 / 2  # on the left: the inline end in RTL
        launcher.click()
        frame = chat(page)
        question = frame.get_by_placeholder("اكتب سؤالك…")
        question.wait_for()
        assert frame.locator("html").get_attribute("dir") == "rtl"
        page.locator("iframe").wait_for(state="visible")
        panel = page.locator("iframe").bounding_box()
        assert panel["x"] < 1100 / 2
        # Mixed-direction text: an Arabic question quoting a SKU stays in order.
        question.fill("هل المقاس M من SKU-4411 متوفر؟")
        question.press("Enter")
        mine = frame.locator("li.msg.own:not(.pending)").first
        mine.wait_for()
        page.wait_for_timeout(300)  # the log settles (it scrolls to the newest message)
        assert mine.locator(".text").get_attribute("dir") == "auto"
        own, log = mine.bounding_box(), frame.locator("#chat-log").bounding_box()
        assert own["x"] - log["x"] < log["width"] / 3  # the shopper's own messages sit at the inline end: left
        admin_reply(shop_server, last_inquiry_id(shop_server), "نعم، متوفر. Size M ships tomorrow.")
        frame.locator("li.msg.theirs:not(.welcome)", has_text="نعم").wait_for(timeout=15000)
        frame.get_by_text("احصل على الإجابات بالبريد الإلكتروني").wait_for()
        keep(page, "languages-ar-foreign-host")
        page.set_viewport_size({"width": 390, "height": 760})
        page.wait_for_timeout(300)
        keep(page, "languages-ar-phone")
        context.close()


def test_a_german_admin_gets_the_panel_in_german_and_the_arabic_question_live(browser, shop_server):
    shopper = browser.new_context(locale="ar")
    page = shopper.new_page()
    context = browser.new_context(locale="de-DE", viewport={"width": 1280, "height": 860})
    admin = context.new_page()
    admin.goto(shop_server.url + "/admin")
    admin.fill("#email", "admin@example.com")
    admin.fill("#password", shop_server.admin_password)
    admin.get_by_role("button", name="Anmelden").click()
    admin.get_by_role("heading", name="Wartet auf uns").wait_for()
    page.goto(shop_server.url + "/products/5")
    page.get_by_role("button", name="اطرح سؤالًا").click()
    box = page.frame_locator("iframe").get_by_placeholder("اكتب سؤالك…")
    box.fill("هل تُطوى سماعات الرأس؟")
    box.press("Enter")
    row = admin.locator("#inquiry-rows tr.inquiry-row").first
    row.wait_for(timeout=8000)  # live, rendered in German for this admin
    assert (
        "هل تُطوى سماعات الرأس؟" in row.inner_text() and "Besucher" in row.inner_text() and "offen" in row.inner_text()
    )
    keep(admin, "languages-de-admin-list")
    row.locator("a.row-link").click()
    admin.get_by_placeholder("Antwort schreiben… (/ für Textbausteine)").wait_for()
    keep(admin, "languages-de-admin-inquiry")
    shopper.close()
    context.close()
