"""Admin streams hear what their page shows: an inquiry page only its inquiry (and the
badge and notifications every admin page shows), the list only changes to its rows."""

import pytest
import sqlalchemy as sa
from flask import template_rendered

from chat.extensions import db
from chat.live.names import Event
from chat.models import AdminPresence
from chat.services import conversations

from .chat_helpers import Statements, first_product_id
from .test_inbox import Customer, Stream, of


@pytest.fixture
def quick(app):
    app.config["SSE_HEARTBEAT_SECONDS"] = 0.2
    return app


class Renders:
    def __init__(self, app):
        self.app, self.names = app, []

    def __enter__(self):
        template_rendered.connect(self.record, self.app)
        return self.names

    def record(self, sender, template, context, **extra):
        self.names.append(template.name)

    def __exit__(self, *exc):
        template_rendered.disconnect(self.record, self.app)


def test_an_inquiry_page_hears_only_its_inquiry_and_the_shared_badge(quick, admin):
    app = quick
    client, token, _ = admin
    pid = first_product_id(app)
    mine, other = Customer(app, pid), Customer(app, pid + 1)
    mine_id = mine.says("Is it waterproof?")["inquiry_id"]
    other.says("Hello")
    page = Stream(client, f"?inquiry={mine_id}")
    page.until_quiet()

    with Renders(app) as rendered:
        other.says("Anyone there?")
        events = page.until_quiet()
    # Another inquiry's message: the notification, no list row, no message; and no badge, as
    # that inquiry waited already (the count the page shows is still right).
    assert [kind for kind, _ in events] == [Event.CUSTOMER_WROTE]
    assert "admin/_row.html" not in rendered and "conversation/_message.html" not in rendered
    # A new inquiry that waits: the badge comes with the new count.
    Customer(app, pid).says("A third question")
    events = page.until_quiet()
    assert [kind for kind, _ in events] == [Event.WAITING, Event.CUSTOMER_WROTE]
    assert dict(events)[Event.WAITING] == "3"

    mine.says("Or only water-resistant?")
    kinds = [kind for kind, _ in page.until_quiet()]
    assert Event.MESSAGE in kinds and Event.ROW not in kinds
    page.close()


def test_the_list_hears_nothing_of_a_delivered_mark_and_a_row_when_the_admin_reads(quick, admin):
    app = quick
    client, token, _ = admin
    shopper = Customer(app, first_product_id(app))
    inquiry_id = shopper.says("Two questions")["inquiry_id"]
    message_id = shopper.says("First: the size")["id"]
    listing = Stream(client, "?status=all")
    listing.until_quiet()

    with app.test_request_context():
        conversations.mark_delivered(inquiry_id, "admin", [message_id])
    assert listing.until_quiet() == []  # the list shows no delivery state

    with app.test_request_context():
        conversations.mark_read(inquiry_id, reader="admin")
    [row] = of(listing.until_quiet(), Event.ROW)
    assert f'id="inq-{inquiry_id}"' in row and "unread-pill" not in row  # the "new" pill went away
    listing.close()


def test_a_page_without_list_or_inquiry_hears_the_badge_only(quick, admin):
    app = quick
    client, token, _ = admin
    account = Stream(client)
    account.until_quiet()
    with Renders(app) as rendered:
        Customer(app, first_product_id(app)).says("Hi")
        events = account.until_quiet()
    assert [kind for kind, _ in events] == [Event.WAITING, Event.CUSTOMER_WROTE]
    assert rendered == []
    account.close()


@pytest.mark.parametrize("meanwhile", ["another stream wrote it", "the old stream removed it"])
def test_an_inquiry_page_opens_while_another_stream_of_the_admin_writes_their_presence(quick, admin, meanwhile):
    """Two streams of one admin on one inquiry (two tabs; a reconnect while the old stream
    still closes) write the same presence row at the same moment: the new one still opens."""
    app = quick
    client, _, ids = admin
    inquiry_id = Customer(app, first_product_id(app)).says("Is it waterproof?")["inquiry_id"]
    row = dict(admin_id=ids["me"], inquiry_id=inquiry_id)
    with app.app_context():
        if meanwhile == "the old stream removed it":
            db.session.add(AdminPresence(**row))
            db.session.commit()
        engine = db.engine
        db.session.remove()

    def elsewhere(statement):
        """``statement`` in another transaction (another stream's), committed."""

        def run():
            with engine.begin() as other:
                other.execute(statement)

        return run

    table = AdminPresence.__table__
    mine = sa.and_(table.c.admin_id == ids["me"], table.c.inquiry_id == inquiry_id)
    with Statements(app) as statements:
        # Just before the opening stream writes the row, another transaction changes it.
        if meanwhile == "another stream wrote it":
            statements.before("INSERT", elsewhere(table.insert().values(**row)), "admin_presence")
        else:
            statements.before("UPDATE", elsewhere(table.delete().where(mine)), "admin_presence")
        page = Stream(client, f"?inquiry={inquiry_id}")  # up to "ready": it did not end at open
    assert not statements.hooks  # the other transaction ran
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(AdminPresence).filter_by(**row)) == 1
    page.close()
