"""Business hours as users meet them (a fixed clock): the widget's welcome or away message,
the settings form and API (validated, nothing half-written), and reminders that wait for open hours."""

import json
import re
from datetime import datetime

import pytest
import sqlalchemy as sa

from chat.extensions import db
from chat.models import OutboxEmail, ProductInquiry, Site
from chat.services import conversations, hours, notifications, sites

from .chat_helpers import Shopper, first_product_id

CLOCK = {"now": datetime(2026, 11, 25, 8, 30)}  # Wednesday, 09:30 in Berlin
WEEKDAYS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
FRIDAY_EVENING = datetime(2026, 11, 27, 21, 0)  # 22:00 in Berlin


@pytest.fixture
def app_config():
    return {"CHAT_CLOCK": lambda: CLOCK["now"]}


@pytest.fixture
def berlin(app, demo):
    CLOCK["now"] = datetime(2026, 11, 25, 8, 30)
    with app.app_context():
        hours.save(sites.demo_site(), "Europe/Berlin", WEEKDAYS)
        return first_product_id(app)


def external_id(app, product_id):
    from chat.models import Product

    with app.app_context():
        return db.session.get(Product, product_id).external_id


def welcome(html):
    return re.search(r'<li class="msg theirs welcome[^"]*"[^>]*>(.*?)</li>', html, re.S).group(0)


def test_inside_the_hours_the_widget_welcomes_as_usual(app, berlin):
    page = app.test_client().get(f"/embed/demo/products/{external_id(app, berlin)}").get_data(as_text=True)
    assert "usually within minutes" in welcome(page) and "away" not in welcome(page)


def test_outside_the_hours_the_widget_says_when_the_shop_answers(app, berlin):
    CLOCK["now"] = FRIDAY_EVENING
    product = external_id(app, berlin)
    page = app.test_client().get(f"/embed/demo/products/{product}").get_data(as_text=True)
    line = welcome(page)
    assert "We're away right now" in line and "We answer again on Monday at 09:00 (Europe/Berlin time" in line
    # Monday 09:00 in Berlin is 08:00 UTC: the shopper's browser shows it in their own time.
    assert '<time datetime="2026-11-30T08:00:00Z" data-local>30 Nov 08:00 UTC</time> your time' in line
    assert "leave your email under it" in line and "usually within minutes" not in line
    # The conversation fragment (after the handshake) says the same, and offers the email form open.
    shopper = Shopper(app)
    shopper.send(product, "Does it fit a 15 inch laptop?")
    fragment = shopper.conversation(product)
    assert "We answer again on Monday at 09:00" in welcome(fragment)
    # The email offer is marked as the away offer: a mouse opens it at once, a phone shows one line
    # with a button (tests/test_accessibility.py drives both).
    assert re.search(r'<details class="away-offer" data-open-with-mouse>\s*<summary>Get answers by email', fragment)
    # Monday morning: open again.
    CLOCK["now"] = datetime(2026, 11, 30, 8, 0)
    assert "usually within minutes" in welcome(shopper.conversation(product))
    assert "<details open>" not in shopper.conversation(product)


def test_a_shop_without_hours_is_always_open(app, demo):
    CLOCK["now"] = FRIDAY_EVENING
    with app.app_context():
        product = first_product_id(app)
    page = app.test_client().get(f"/embed/demo/products/{external_id(app, product)}").get_data(as_text=True)
    assert "usually within minutes" in welcome(page)


def stored(app):
    with app.app_context():
        site = db.session.scalar(sa.select(Site).filter_by(public_id="demo"))
        return site.timezone, hours.of_site(site)


def post_hours(client, token, **form):
    data = {
        "csrf_token": token,
        "mode": "hours",
        "timezone": "Europe/Berlin",
        **{day: "" for day in hours.DAYS},
        **form,
    }
    return client.post("/admin/sites/demo/hours", data=data)


def test_the_settings_form_saves_zone_and_hours(app, demo, admin):
    client, token, _ = admin
    page = client.get("/admin/sites/demo").get_data(as_text=True)
    assert 'id="hours-timezone"' in page and "<option>Europe/Berlin</option>" in page
    response = post_hours(client, token, timezone="America/New_York", mon="9:00-12:30, 13:30-18:00", sat="10:00-14:00")
    assert response.status_code == 303 and response.headers["Location"].endswith("/admin/sites/demo#hours")
    assert stored(app) == (
        "America/New_York",
        {
            "mon": [["09:00", "12:30"], ["13:30", "18:00"]],
            "tue": [],
            "wed": [],
            "thu": [],
            "fri": [],
            "sat": [["10:00", "14:00"]],
            "sun": [],
        },
    )
    page = client.get("/admin/sites/demo").get_data(as_text=True)
    assert 'value="09:00-12:30, 13:30-18:00"' in page and "<option selected>America/New_York</option>" in page
    assert post_hours(client, token, mode="always").status_code == 303
    assert stored(app) == ("Europe/Berlin", None)


@pytest.mark.parametrize(
    "form, field, text",
    [
        ({"timezone": "Mars/Olympus", "mon": "09:00-17:00"}, "timezone", "Choose a time zone"),
        ({"tue": "9-5"}, "tue", "Tuesday: a span is two times like 09:00 and 17:30"),
        ({"wed": "09:00-12:00, 11:00-15:00"}, "wed", "Wednesday: spans overlap."),
        ({"thu": "17:00-09:00"}, "thu", "Thursday: a span is two times"),
        ({"fri": "09:00 to 17:00"}, "fri", "Friday: write spans like 09:00-17:30"),
        ({}, "mon", "Give the hours of at least one day, or choose always open."),
    ],
)
def test_the_settings_form_shows_each_error_next_to_its_field_and_stores_nothing(app, demo, admin, form, field, text):
    client, token, _ = admin
    before = stored(app)
    response = post_hours(client, token, **({"mon": "09:00-17:00"} if field != "mon" else {}) | form)
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    error = re.search(rf'<p class="form-error" id="hours-{field}-error">([^<]*)</p>', page)
    assert error and text in error.group(1)
    assert f'id="hours-{field}" ' in page and 'aria-describedby="hours-' + field + '-error"' in page
    assert stored(app) == before


def test_hours_api_reads_and_replaces_both_or_nothing(app, demo, admin):
    client, token, _ = admin
    headers = {"X-CSRFToken": token}
    CLOCK["now"] = FRIDAY_EVENING
    assert client.get("/api/admin/sites/demo/hours").get_json() == {
        "site": "demo",
        "timezone": "UTC",
        "hours": None,
        "open_now": True,
        "next_open": "2026-11-27T21:00:00Z",
    }
    body = client.put(
        "/api/admin/sites/demo/hours", headers=headers, json={"timezone": "Europe/Berlin", "hours": WEEKDAYS}
    )
    assert body.status_code == 200
    assert body.get_json()["open_now"] is False and body.get_json()["next_open"] == "2026-11-30T08:00:00Z"
    assert body.get_json()["hours"]["sat"] == [] and body.get_json()["hours"]["mon"] == [["09:00", "17:00"]]
    # A bad zone with good hours (and the reverse): 422 naming the field, nothing changes.
    for payload, field in (
        ({"timezone": "Nowhere/Land", "hours": {"mon": [["08:00", "12:00"]]}}, "timezone"),
        ({"timezone": "Asia/Tokyo", "hours": {"mon": [["08:00", "25:00"]]}}, "mon"),
        ({"timezone": "Asia/Tokyo", "hours": {"someday": []}}, "hours"),
        ({"hours": None}, "timezone"),
    ):
        response = client.put("/api/admin/sites/demo/hours", headers=headers, json=payload)
        assert response.status_code == 422 and field in response.get_json()["fields"], payload
    assert stored(app) == ("Europe/Berlin", dict(WEEKDAYS, sat=[], sun=[]))
    assert client.put("/api/admin/sites/nope/hours", headers=headers, json={"timezone": "UTC"}).status_code == 404
    assert app.test_client().get("/api/admin/sites/demo/hours").status_code == 401
    assert client.put("/api/admin/sites/demo/hours", json={"timezone": "UTC"}).status_code == 400  # no CSRF token


def unanswered_mails(app):
    with app.app_context():
        return db.session.scalar(
            sa.select(sa.func.count()).select_from(OutboxEmail).where(OutboxEmail.dedupe_key.like("unanswered:%"))
        )


def test_the_unanswered_reminder_counts_business_minutes_and_urgent_mail_goes_at_once(app, berlin):
    minutes = app.config["NOTIFY_UNANSWERED_MINUTES"]
    with app.app_context():
        result = conversations.send_customer_message(berlin, "s" * 30, "Is this urgent item broken on arrival?")
        inquiry = db.session.get(ProductInquiry, result.message.inquiry_id)
        inquiry.waiting_since = FRIDAY_EVENING
        db.session.commit()
        # Urgent: mailed at once, hours or not.
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(OutboxEmail).where(OutboxEmail.dedupe_key.like("high:%"))
            )
            >= 1
        )
        # Friday 22:00 to Monday 09:00 + (minutes - 1): not yet due; a minute later it is.
        assert notifications.scan(now=datetime(2026, 11, 28, 12, 0)) == 0
        assert notifications.scan(now=datetime(2026, 11, 30, 8, minutes - 1)) == 0
        assert unanswered_mails(app) == 0
        assert notifications.scan(now=datetime(2026, 11, 30, 8, minutes)) >= 1
    assert unanswered_mails(app) >= 1
    with app.app_context():
        # Once per waiting period.
        assert notifications.scan(now=datetime(2026, 11, 30, 9, 0)) == 0


def test_settings_are_escaped_where_shown(app, demo, admin):
    client, token, _ = admin
    response = post_hours(client, token, mon="<script>alert(1)</script>")
    page = response.get_data(as_text=True)
    assert response.status_code == 422 and "<script>alert(1)</script>" not in page
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt;"' in page
    assert json.loads(json.dumps(stored(app)))[1] is None
