"""axe-core (pinned, tests/axe.py) on every page a shopper or an admin sees: 0 violations of any
impact, per language. A failure prints the table page × locale → violations, then the nodes."""

import json
import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from . import axe
from .browser import screenshot
from .files import png
from .test_browser_inbox import log_in
from .test_browser_metrics import server_app
from .widget import Widget, last_inquiry_id

pytestmark = pytest.mark.browser

# The browser's language (navigator.languages and Accept-Language): the chat and the shop
# speak Arabic, right to left (the panel stays in English, its languages are English and German).
LOCALES = ["en", "ar"]


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

    # Enough messages for the log to scroll: a scrolling region must be reachable by keyboard.
    for n in range(6):
        page.locator("#chat-text").fill(f"Earlier question {n}")
        page.locator("#chat-text").press("Enter")
        page.locator("#chat-log li.own:not(.pending)", has_text=f"Earlier question {n}").wait_for()
    page.locator("[data-attach-input]").set_input_files(
        [{"name": "lens.png", "mimeType": "image/png", "buffer": png()}]
    )
    page.locator("#chat-text").fill("The lens is scratched")
    page.locator("#chat-text").press("Enter")
    page.locator("#chat-log li.own:not(.pending) img[data-attachment]").wait_for(timeout=20000)
    assert page.evaluate(
        "() => { const l = document.getElementById('chat-log'); return l.scrollHeight > l.clientHeight; }"
    )
    check("embed: attachment", page)

    page.locator("#chat-email details > summary").click()  # in any language
    page.locator("#chat-email-input").wait_for()
    check("embed: email form open", page)

    page.locator("button[data-questions-toggle]").first.click()
    page.locator("#your-questions li").first.wait_for()
    check("embed: your questions open", page)

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
    admin.goto(server.url + "/admin/people")
    check("admin people", admin)
    admin.goto(server.url + "/admin/audit")
    check("admin audit log", admin)

    # The phone layouts (the list as cards, the inquiry folded, the chat filling the screen).
    phone = browser.new_context(**PHONE, locale=locale)
    phone_admin = log_in(phone, server)
    phone_admin.locator("#inquiry-rows tr.inquiry-row").first.wait_for()
    check("admin list (phone)", phone_admin)
    phone_admin.goto(f"{server.url}/admin/inquiries/{inquiry_id}")
    check("admin inquiry (phone)", phone_admin)
    phone_shop = phone.new_page()
    phone_shop.goto(server.url + "/products/1")
    Widget(phone_shop).launcher.tap()
    Widget(phone_shop).box.wait_for()
    check("product page, chat open (phone)", phone_shop)
    phone.close()

    product_id, question_id = publish_question(server, inquiry_id)
    page.goto(f"{server.url}/products/{product_id}/questions/{question_id}")
    check("Q&A page", page)

    admin.goto(f"{server.url}/admin/inquiries/{inquiry_id}")
    admin.select_option("select[name=status]", "resolved")
    admin.locator(".chat-log li.msg.system").first.wait_for()
    page.goto(server.url + "/embed/demo/products/1")
    page.locator("#chat-log .rating").wait_for()
    check("embed: resolved, rating offered", page)

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


def test_the_question_box_has_focus_on_another_shops_page(browser, shop_server):
    """The real embed: the shop's page on another origin, the chat in our cross-origin frame."""
    from .host_page import HostPage, product_page
    from .test_browser_embed import create_site

    with HostPage({}) as host:
        site = create_site(shop_server, host.origin)["site"]
        host.pages["/lamp"] = product_page(shop_server.url, site, "lamp-1", title="Desk lamp · Clay & Co")
        context = browser.new_context(viewport={"width": 1100, "height": 800})
        page = context.new_page()
        page.goto(host.url("/lamp"))
        widget = Widget(page)
        widget.launcher.click()
        widget.box.wait_for()
        chat = page.frame(url=re.compile(r"/embed/"))
        chat.wait_for_function("() => document.activeElement && document.activeElement.id === 'chat-text'")
        page.keyboard.type("hello")
        assert widget.box.input_value() == "hello"
        context.close()


def test_a_tampered_axe_is_never_used(tmp_path, monkeypatch):
    bad = tmp_path / f"axe-core-{axe.VERSION}.tgz"
    bad.write_bytes(b"not the pinned axe-core")
    monkeypatch.setattr(axe, "TARBALL", str(bad))
    monkeypatch.setattr(axe.shutil, "which", lambda name: None)  # and it cannot be fetched again
    with pytest.raises(RuntimeError, match="npm is not installed"):
        axe.fetch()


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
        f"() => {HOST}.shadowRoot.querySelector('p[role=status]').textContent === '1 unread answer from the shop'",
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
    screenshot(page, "a11y-email-open-320")
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


# 320 CSS pixels wide (WCAG's reflow width), and a 1280 × 800 window at 200 % zoom.
SMALL_SCREENS = [
    {"viewport": {"width": 320, "height": 640}, "device_scale_factor": 1},
    {"viewport": {"width": 640, "height": 400}, "device_scale_factor": 2},
]
WIDE = "() => ({scroll: document.documentElement.scrollWidth, body: document.body.scrollWidth, inner: innerWidth})"


@pytest.mark.parametrize("screen", SMALL_SCREENS, ids=["320px", "zoom200"])
def test_no_sideways_scrolling_at_320_px_and_200_percent_zoom(browser, shop_server, screen):
    width = screen["viewport"]["width"]
    too_wide = {}

    def check(name, page, frame=None):
        page.wait_for_timeout(300)
        for where, target in (("page", page), ("chat", frame)):
            if target is None:
                continue
            got = target.evaluate(WIDE)
            if max(got["scroll"], got["body"]) > width:
                too_wide[f"{name} ({where})"] = got

    shopper = browser.new_context(**screen)
    page = shopper.new_page()
    page.goto(shop_server.url + "/products/1")
    check("product page", page)
    Widget(page).open()
    chat = page.frame(url=re.compile(r"/embed/"))
    chat.locator("#chat-text").fill("Is there a longer strap?\nhttps://example.com/a-very-long-link-" + "x" * 60)
    chat.get_by_role("button", name="Send").click()
    chat.locator("#chat-log li.own:not(.pending)").wait_for()
    chat.locator("[data-attach-input]").set_input_files(
        [{"name": "a-photo-with-a-rather-long-file-name-from-a-phone.png", "mimeType": "image/png", "buffer": png()}]
    )
    chat.get_by_role("button", name="Send").click()
    chat.locator("#chat-log li.own:not(.pending) img[data-attachment]").wait_for(timeout=20000)
    if width == 320:
        path = screenshot(page, "a11y-chat-320")
        assert path
    chat.get_by_text("Get answers by email").click()
    check("product page, chat open", page, chat)

    admin_context = browser.new_context(**screen)
    login = admin_context.new_page()
    login.goto(shop_server.url + "/admin/login")
    check("admin login", login)
    login.close()
    admin = log_in(admin_context, shop_server)
    check("admin list", admin)
    admin.goto(f"{shop_server.url}/admin/inquiries/{last_inquiry_id(shop_server)}")
    admin.locator(".note-box summary").click()
    check("admin inquiry", admin)
    for path in (
        "/admin/sites",
        "/admin/sites/demo",
        "/admin/metrics",
        "/admin/account",
        "/admin/canned",
        "/admin/webhooks",
        "/admin/tokens",
        "/admin/people",
        "/admin/audit",
    ):
        admin.goto(shop_server.url + path)
        check(path, admin)
    shopper.close()
    admin_context.close()
    assert not too_wide, f"wider than the {width} px screen: {too_wide}"


EVERYTHING_STILL = """() => [...document.querySelectorAll("*")].flatMap(el => {
  const s = getComputedStyle(el);
  const moving = (s.animationName !== "none" && s.animationDuration !== "0s")
    || s.transitionDuration.split(",").some(d => parseFloat(d) > 0);
  return moving ? [el.tagName.toLowerCase() + "." + el.className + " " + s.animationName + " " + s.transitionDuration] : [];
})"""


def test_reduced_motion_is_honoured(browser, shop_server):
    from .test_browser_inbox import customer_says

    moving = {}
    for motion in ("no-preference", "reduce"):
        context = browser.new_context(viewport={"width": 1100, "height": 800}, reduced_motion=motion)
        admin = log_in(context, shop_server)
        customer_says(shop_server, 2, f"A new row while the list is open ({motion})")
        admin.locator("#inquiry-rows tr.flash-row").first.wait_for(timeout=10000)  # arrives live, flashing
        shop = context.new_page()
        shop.goto(shop_server.url + "/")  # the product cards' hover
        moving[motion] = admin.evaluate(EVERYTHING_STILL) + shop.evaluate(EVERYTHING_STILL)
        shop.goto(shop_server.url + "/products/2")
        widget = Widget(shop).open()
        chat = shop.frame(url=re.compile(r"/embed/"))
        moving[motion] += shop.evaluate(EVERYTHING_STILL) + chat.evaluate(EVERYTHING_STILL)
        widget.close()
        context.close()
    assert moving["no-preference"], "the check sees nothing moving even without the preference"
    assert moving["reduce"] == [], moving["reduce"]


def test_away_on_a_phone_the_email_offer_is_one_line_with_a_button(browser, shop_server):
    closed_all_week(shop_server)
    phone = browser.new_context(**PHONE)
    page = phone.new_page()
    page.goto(shop_server.url + "/products/4")
    widget = Widget(page)
    widget.launcher.tap()
    widget.box.wait_for()
    widget.log.locator("li.welcome.away").wait_for()
    widget.box.fill("Is the hip belt removable?")
    widget.frame.get_by_role("button", name="Send").tap()
    widget.log.locator("li.own:not(.pending)").wait_for()
    offer = widget.frame.locator("#chat-email details")
    offer.wait_for()
    page.wait_for_timeout(300)
    assert offer.get_attribute("open") is None
    height = widget.frame.locator("#chat-email").bounding_box()["height"]
    assert height < 0.08 * PHONE["viewport"]["height"], f"the offer takes {height} px"
    assert not widget.frame.locator("#chat-email-input").is_visible()
    path = screenshot(page, "a11y-away-phone")
    assert path
    widget.frame.locator("#chat-email summary").tap()
    widget.frame.locator("#chat-email-input").wait_for()
    assert widget.frame.get_by_role("button", name="Save email").is_visible()
    phone.close()
