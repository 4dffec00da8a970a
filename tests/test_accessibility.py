"""axe-core (pinned, tests/axe.py) on every page a shopper or an admin sees: 0 violations of any
impact, per language. A failure prints the table page × locale → violations, then the nodes."""

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from . import axe
from .files import png
from .test_browser_inbox import log_in
from .test_browser_metrics import server_app
from .widget import Widget, last_inquiry_id

pytestmark = pytest.mark.browser

# The browser's language (navigator.languages and Accept-Language): Arabic joins when the
# catalogs land.
LOCALES = ["en"]


@pytest.fixture(scope="module")
def axe_js():
    return axe.source()


def closed_all_week(server):
    """The demo site open only three days from now: away whatever the time of the run."""
    from chat.extensions import db
    from chat.models import Site

    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    open_day = days[(datetime.now(UTC).weekday() + 3) % 7]
    app = server_app(server)
    with app.app_context():
        site = db.session.scalar(sa.select(Site).filter_by(public_id="demo"))
        site.business_hours = json.dumps({open_day: [["09:00", "17:00"]]})
        db.session.commit()


def publish_question(server, inquiry_id):
    from chat.services import questions

    app = server_app(server)
    with app.app_context():
        entry = questions.publish(inquiry_id, None, "Is it waterproof?", "Water-resistant; a rain cover is included.")
        return entry.product_id, entry.id


def settle(page):
    page.wait_for_timeout(400)  # htmx swaps and the stream's first events


def audit_pages(browser, server, locale, axe_js):
    """Visit every page in one language; returns {page name: violations}."""
    found = {}

    def check(name, page):
        settle(page)
        found[name] = axe.violations(page, axe_js)

    shopper = browser.new_context(viewport={"width": 1100, "height": 800}, locale=locale)
    page = shopper.new_page()
    page.goto(server.url + "/products/1")
    Widget(page).open()
    check("product page, chat open", page)

    page.goto(server.url + "/embed/demo/products/1")
    page.locator("#chat-text").wait_for()
    check("embed: empty", page)

    page.locator("[data-attach-input]").set_input_files(
        [{"name": "lens.png", "mimeType": "image/png", "buffer": png()}]
    )
    page.locator("#chat-text").fill("The lens is scratched")
    page.locator("#chat-text").press("Enter")
    page.locator("#chat-log li.own:not(.pending) img[data-attachment]").wait_for(timeout=20000)
    check("embed: attachment", page)

    page.get_by_text("Get answers by email").click()
    page.locator("#chat-email-input").wait_for()
    check("embed: email form open", page)

    admin_context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=locale)
    login = admin_context.new_page()
    login.goto(server.url + "/admin/login")
    check("admin login", login)
    login.close()
    admin = log_in(admin_context, server)
    admin.locator("#inquiry-rows tr.inquiry-row").first.wait_for()
    check("admin list", admin)

    inquiry_id = last_inquiry_id(server)
    admin.goto(f"{server.url}/admin/inquiries/{inquiry_id}")
    admin.locator(".note-box summary").click()
    admin.locator("#note-text").wait_for()
    check("admin inquiry, note open", admin)

    admin.goto(server.url + "/admin/sites")
    check("admin sites", admin)
    admin.goto(server.url + "/admin/metrics")
    check("admin metrics", admin)
    admin.goto(server.url + "/admin/account")
    check("admin account", admin)

    product_id, question_id = publish_question(server, inquiry_id)
    page.goto(f"{server.url}/products/{product_id}/questions/{question_id}")
    check("Q&A page", page)

    closed_all_week(server)
    page.goto(server.url + "/embed/demo/products/1")
    page.locator("#chat-log li.welcome.away").wait_for()
    page.locator("#chat-email details").wait_for()
    check("embed: away message", page)

    shopper.close()
    admin_context.close()
    return found


@pytest.mark.parametrize("locale", LOCALES)
def test_no_axe_violations(browser, shop_server, axe_js, locale):
    results = {(name, locale): found for name, found in audit_pages(browser, shop_server, locale, axe_js).items()}
    print("\n" + axe.table(results, [locale]))
    bad = {key: found for key, found in results.items() if found}
    assert not bad, "\n" + axe.table(results, [locale]) + "\n\n" + axe.details(bad)


# ---- behaviour: focus, announcements, the newest message, small screens, motion, away ----

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}

# Where the newest message is against the log's visible box and the answer form.
NEWEST = """() => {
  const log = document.getElementById("chat-log"), last = log.querySelector("li.msg:last-of-type");
  const form = document.querySelector("[data-chat-form]");
  const l = log.getBoundingClientRect(), m = last.getBoundingClientRect(), f = form.getBoundingClientRect();
  return {text: last.innerText, top: m.top, bottom: m.bottom, logTop: l.top, logBottom: l.bottom,
          formTop: f.top, formBottom: f.bottom, height: innerHeight};
}"""


def in_sight(box):
    """The newest message wholly inside the log's visible part, above the form, on the screen."""
    return (
        box["top"] >= box["logTop"] - 1
        and box["bottom"] <= box["logBottom"] + 1
        and (box["bottom"] <= box["formTop"] + 1 or box["top"] >= box["formBottom"] - 1)
        and 0 <= box["top"]
        and box["bottom"] <= box["height"]
    )


# The loader's host element (its shadow root holds the launcher, the frame and the status line).
HOST = "[...document.body.children].find(e => e.shadowRoot)"


def shadow_status(page):
    return page.locator("p[role=status]")


def test_the_question_box_has_focus_whenever_the_chat_opens(browser, shop_server):
    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.goto(shop_server.url + "/products/2")
    widget = Widget(page)
    for time in ("first", "again"):
        widget.launcher.click()
        widget.box.wait_for()
        page.wait_for_function(f"() => {HOST}?.shadowRoot.activeElement?.tagName === 'IFRAME'", timeout=5000)
        frame = page.frame_locator("iframe[title='Chat with the shop']")
        focused = frame.locator("body").evaluate("() => document.activeElement.id")
        assert focused == "chat-text", f"{time} open: focus on {focused!r}"
        widget.box.type("x")  # typed keys land in the box
        assert widget.box.input_value() == "x"
        widget.box.fill("")
        widget.close()
    context.close()


def test_a_new_answer_is_announced_while_the_chat_is_closed(browser, shop_server):
    from .widget import admin_reply

    context = browser.new_context(viewport={"width": 1100, "height": 800})
    page = context.new_page()
    page.goto(shop_server.url + "/products/3")
    widget = Widget(page).open()
    widget.send("Does it come in blue?")
    widget.close()
    status = shadow_status(page)
    assert status.count() == 1 and status.inner_text() == ""
    admin_reply(shop_server, last_inquiry_id(shop_server), "Yes, in navy blue.")
    page.wait_for_function(
        f"() => {HOST}.shadowRoot.querySelector('p[role=status]').textContent === 'New answer from the shop'",
        timeout=15000,
    )
    assert widget.badge.inner_text() == "1"
    context.close()


def test_the_answer_form_never_covers_the_newest_message(browser, shop_server):
    # The shopper on the smallest phone: a long conversation, then the email form opens below it.
    context = browser.new_context(viewport={"width": 320, "height": 568}, has_touch=True)
    page = context.new_page()
    page.goto(shop_server.url + "/embed/demo/products/1")
    page.locator("#chat-text").wait_for()
    for n in range(8):
        page.locator("#chat-text").fill(f"Question number {n}\nwith a second line")
        page.get_by_role("button", name="Send").click()  # on a touch screen Enter is a new line
        page.locator("#chat-log li.own:not(.pending)", has_text=f"Question number {n}").wait_for()
    box = page.evaluate(NEWEST)
    assert "Question number 7" in box["text"] and in_sight(box), box
    page.get_by_text("Get answers by email").click()
    page.locator("#chat-email-input").wait_for()
    page.wait_for_timeout(200)
    box = page.evaluate(NEWEST)
    assert "Question number 7" in box["text"] and in_sight(box), box
    context.close()

    # The admin answers it, on a wide screen and on a phone, with the private note open.
    for viewport in ({"width": 1280, "height": 800}, {"width": 390, "height": 700}):
        admin_context = browser.new_context(viewport=viewport)
        admin = log_in(admin_context, shop_server)
        admin.goto(f"{shop_server.url}/admin/inquiries/{last_inquiry_id(shop_server)}")
        admin.locator("#chat-log li.msg", has_text="Question number 7").wait_for()
        admin.locator(".note-box summary").click()
        admin.locator("#note-text").wait_for()
        admin.wait_for_timeout(200)
        admin.locator("#note-text").scroll_into_view_if_needed()
        box = admin.evaluate(NEWEST)
        note = admin.locator("#note-form").bounding_box()
        assert "Question number 7" in box["text"] and in_sight(box), json.dumps([viewport, box])
        assert box["bottom"] <= note["y"] + 1, (viewport, box, note)
        admin_context.close()
