"""Business hours in the shop's own time zone, daylight saving included (a fixed clock)."""

from datetime import datetime

import pytest

from chat.services import hours as hours_service
from chat.services.errors import ValidationError

WEEKDAYS = {day: [["09:00", "17:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}


def berlin():
    return hours_service.Hours(hours_service.parse(WEEKDAYS), "Europe/Berlin")


def test_open_and_next_opening_in_the_shops_time_zone():
    h = berlin()
    # Wed 2026-11-25 08:30 UTC = 09:30 in Berlin (CET, UTC+1): open.
    assert h.is_open(datetime(2026, 11, 25, 8, 30))
    # Wed 17:30 Berlin = 16:30 UTC: closed; opens Thursday 09:00 Berlin = 08:00 UTC.
    assert not h.is_open(datetime(2026, 11, 25, 16, 30))
    assert h.next_open(datetime(2026, 11, 25, 16, 30)) == datetime(2026, 11, 26, 8, 0)
    assert h.describe_next_open(datetime(2026, 11, 25, 16, 30)) == "tomorrow at 09:00"
    # Friday evening: Monday.
    assert h.describe_next_open(datetime(2026, 11, 27, 18, 0)) == "on Monday at 09:00"
    # Summer time (CEST, UTC+2): 09:00 Berlin is 07:00 UTC.
    assert h.next_open(datetime(2026, 7, 1, 5, 0)) == datetime(2026, 7, 1, 7, 0)


def test_open_seconds_count_only_business_hours():
    h = berlin()
    # Asked Friday 16:00 Berlin (15:00 UTC), answered Monday 10:00 Berlin (09:00 UTC): 1 h + 1 h open.
    assert h.open_seconds(datetime(2026, 11, 27, 15, 0), datetime(2026, 11, 30, 9, 0)) == 2 * 3600
    assert h.open_seconds(datetime(2026, 11, 28, 10, 0), datetime(2026, 11, 29, 10, 0)) == 0  # a weekend
    always = hours_service.Hours(None, "UTC")
    assert always.open_seconds(datetime(2026, 11, 28, 10, 0), datetime(2026, 11, 29, 10, 0)) == 86400
    assert (
        always.is_open(datetime(2026, 11, 28, 3, 0))
        and always.describe_next_open(datetime(2026, 1, 1)) == "today at 00:00"
    )


def test_hours_are_validated():
    for bad in (
        {"monday": []},
        {"mon": [["17:00", "09:00"]]},
        {"mon": [["9:00", "17:00"]]},
        {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]},
        {"mon": "09-17"},
        "not json",
    ):
        with pytest.raises(ValidationError):
            hours_service.parse(bad)
    assert hours_service.parse({"sat": [["10:00", "14:00"]]})["sat"] == [["10:00", "14:00"]]
    assert hours_service.parse({}) is None
    with pytest.raises(ValidationError):
        hours_service.zone("Mars/Olympus")
    assert hours_service.zone("Europe/Berlin") == "Europe/Berlin"


def test_the_first_answer_is_timed_in_business_hours(app, demo):
    import sqlalchemy as sa

    from chat.extensions import db
    from chat.models import ProductInquiry, User
    from chat.services import inquiries, sites

    from .chat_helpers import first_product_id, make_inquiry

    inquiry_id = make_inquiry(app, first_product_id(app), "Asked on Friday afternoon")
    with app.app_context():
        site = sites.demo_site()
        site.timezone, site.business_hours = (
            "Europe/Berlin",
            '{"mon": [["09:00", "17:00"]], "fri": [["09:00", "17:00"]]}',
        )
        inquiry = db.session.get(ProductInquiry, inquiry_id)
        inquiry.created_at = datetime(2026, 11, 27, 15, 0)  # Friday 16:00 in Berlin
        db.session.commit()
        admin = db.session.scalar(sa.select(User))
        first = inquiries.respond(inquiry_id, admin, "Answered Monday").message
        db.session.execute(
            sa.update(type(first)).where(type(first).id == first.id).values(created_at=datetime(2026, 11, 30, 9, 0))
        )
        db.session.commit()
        inquiry = db.session.get(ProductInquiry, inquiry_id)
        assert inquiry.first_response_at is not None
        # Recompute for Monday 10:00 Berlin: one hour on Friday, one on Monday.
        db.session.execute(
            sa.update(ProductInquiry).where(ProductInquiry.id == inquiry_id).values(first_response_at=None)
        )
        db.session.commit()
        inquiries._time_first_response(db.session.get(ProductInquiry, inquiry_id), datetime(2026, 11, 30, 9, 0))
        db.session.commit()
        assert db.session.get(ProductInquiry, inquiry_id).first_response_seconds == 2 * 3600
        inquiries.respond(inquiry_id, admin, "A second answer does not move it")
        assert db.session.get(ProductInquiry, inquiry_id).first_response_seconds == 2 * 3600
