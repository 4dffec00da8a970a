"""axe-core (pinned, tests/axe.py) on every page a shopper or an admin sees: 0 violations of any
impact, per language. A failure prints the table page × locale → violations, then the nodes."""

import json
import re
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
