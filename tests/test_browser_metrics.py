"""The metrics page's SVG charts drawn by Chromium, and the widget's away message, with screenshots."""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from .browser import screenshot
from .test_browser_embed import admin_page
from .widget import Widget

pytestmark = pytest.mark.browser


def server_app(server):
    """An app on the test server's own SQLite file, to write fixtures through the models."""
    from chat import create_app

    from .conftest import _config

    return create_app(_config(server.env["DATABASE_URL"]))


def log_in(browser, server):
    return admin_page(browser, server, viewport={"width": 1200, "height": 1400})


def test_the_metrics_page_draws_its_charts(browser, shop_server):
    from chat.extensions import db
    from chat.models import Product, ProductInquiry

    today = datetime.now(UTC).replace(tzinfo=None, hour=0, minute=0, second=0, microsecond=0)
    app = server_app(shop_server)
    with app.app_context():
        products = db.session.scalars(sa.select(Product).order_by(Product.id).limit(3)).all()
        n = 0
        for back in range(30):
            day = today - timedelta(days=back)
            for i in range((back * 7) % 5 + 1):  # 1-5 a day
                n += 1
                answered = (n % 6) != 0
                db.session.add(
                    ProductInquiry(
                        product_id=products[n % 3].id,
                        session_id=f"metrics-{n}",
                        created_at=day + timedelta(hours=9, minutes=i),
                        first_response_seconds=(60 * (1 + (n * 37) % 50)) if answered else None,
                        rating=("good" if n % 4 else "bad") if answered else None,
                        waiting_since=None if answered or back > 3 else day + timedelta(hours=9),
                    )
                )
        db.session.commit()
        expected = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(ProductInquiry)
            .where(ProductInquiry.created_at >= today - timedelta(days=29))
        )
    context, page = log_in(browser, shop_server)
    try:
        page.get_by_role("link", name="Metrics").click()
        page.wait_for_url(re.compile(r".*/admin/metrics$"))
        assert page.locator("#metric-inquiries").inner_text() == str(expected)
        bars = page.locator("#chart-inquiries rect.bar")
        assert bars.count() == 30
        heights = page.evaluate(
            "[...document.querySelectorAll('#chart-inquiries rect.bar')].map(r => r.getBoundingClientRect().height)"
        )
        assert min(heights) > 0 and max(heights) > 2 * min(heights)  # drawn, and to scale
        assert page.locator("#chart-response rect.p90").count() > 0
        # Screen readers get the chart's title and every bar's value.
        assert page.get_by_role("img", name=re.compile("Inquiries per day")).count() == 1
        assert re.search(r"\d+ inquir", bars.first.locator("title").text_content())
        page.locator("#chart-response").scroll_into_view_if_needed()
        path = screenshot(page, "metrics")
        assert path.endswith("metrics.png")
        csv_link = page.get_by_role("link", name="Download CSV").get_attribute("href")
        assert csv_link.startswith("/admin/metrics.csv?from=")
    finally:
        context.close()


def test_the_widget_says_when_the_shop_answers_while_away(browser, shop_server):
    from chat.extensions import db
    from chat.models import Site

    # Open only on a weekday three days from now: closed whatever the time of the run.
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    open_day = days[(datetime.now(UTC).weekday() + 3) % 7]
    app = server_app(shop_server)
    with app.app_context():
        site = db.session.scalar(sa.select(Site).filter_by(public_id="demo"))
        site.timezone = "America/New_York"
        site.business_hours = json.dumps({open_day: [["09:00", "17:00"]]})
        db.session.commit()
    context = browser.new_context(viewport={"width": 1100, "height": 800}, timezone_id="Europe/Berlin", locale="en-GB")
    page = context.new_page()
    try:
        page.goto(shop_server.url + "/products/1")
        widget = Widget(page).open()
        away = widget.log.locator("li.welcome")
        away.wait_for()
        text = away.inner_text()
        assert "We're away right now" in text and "(America/New_York time;" in text
        # The opening, New York's 09:00, in the browser's own zone (Berlin): localised by conversation.js.
        from zoneinfo import ZoneInfo

        from chat.services.hours import Hours

        with app.app_context():
            opens = Hours.of(db.session.scalar(sa.select(Site).filter_by(public_id="demo"))).next_open(
                datetime.now(UTC).replace(tzinfo=None)
            )
        berlin = opens.replace(tzinfo=UTC).astimezone(ZoneInfo("Europe/Berlin")).strftime("%H:%M")
        assert berlin in text and "UTC" not in text, text
        screenshot(page, "away-message")
        widget.send("Is the hip belt removable?")
        # The offer opens once the send is answered (a mouse user: the form itself).
        widget.frame.locator("#chat-email details[open]").wait_for(state="attached", timeout=15000)
        screenshot(page, "away-email")
    finally:
        context.close()


def test_business_hours_form_shows_errors_next_to_the_field_then_saves(browser, shop_server):
    context, page = log_in(browser, shop_server)
    try:
        page.goto(shop_server.url + "/admin/sites/demo#hours")
        page.get_by_label("Time zone", exact=True).select_option("Europe/Vienna")
        page.get_by_label("These hours").check()
        page.get_by_label("Monday").fill("09:00-17:00")
        page.get_by_label("Tuesday").fill("9 to 5")
        page.get_by_role("button", name="Save hours").click()
        error = page.locator("#hours-tue-error")
        error.wait_for()
        assert "Tuesday: write spans like 09:00-17:30" in error.inner_text()
        assert page.get_by_label("Tuesday").get_attribute("aria-invalid") == "true"
        assert page.get_by_label("Time zone", exact=True).input_value() == "Europe/Vienna"  # what was sent is kept
        page.locator("#hours").scroll_into_view_if_needed()
        screenshot(page, "hours-form-error")
        page.get_by_label("Tuesday").fill("09:00-12:00, 13:00-17:00")
        page.get_by_role("button", name="Save hours").click()
        page.get_by_text("Business hours saved.").wait_for()
        assert page.get_by_label("Tuesday").input_value() == "09:00-12:00, 13:00-17:00"
    finally:
        context.close()
