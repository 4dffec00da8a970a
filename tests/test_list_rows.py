"""The admin list's rows as data: a service's INQUIRY record carries the whole row, so a
list's stream matches it (lists without a search) and renders it without a query, and the
row it shows is the row a reload shows. The counts the row shows are kept on the inquiry."""

import itertools
import re

import pytest
import sqlalchemy as sa

from chat.admin.live import AdminStream
from chat.extensions import db
from chat.live.names import Event
from chat.models import INQUIRY_STATUSES, PRIORITIES, Product, ProductInquiry, ProductMessage, User
from chat.services import access, conversations, inquiries, list_rows, notes, ratings, sites

from .chat_helpers import first_product_id, make_product
from .files import png
from .test_attachments import api_send
from .test_inbox import Customer, Stream, of

ROW = re.compile(r'<tr id="inq-(\d+)".*?</tr>', re.S)


@pytest.fixture
def quick(app):
    app.config["SSE_HEARTBEAT_SECONDS"] = 0.2
    return app


def page_rows(client, query):
    """{inquiry id: row HTML} of the list page (a reload)."""
    page = client.get("/admin" + query).get_data(as_text=True)
    return {int(m.group(1)): m.group(0) for m in ROW.finditer(page)}


def live_row(events, inquiry_id):
    [row] = [html for html in of(events, Event.ROW) if f'id="inq-{inquiry_id}"' in html]
    return row


@pytest.mark.parametrize("language", ["en", "de"])
def test_a_live_row_is_the_row_a_reload_shows(quick, admin, language):
    app = quick
    client, _, ids = admin
    with app.app_context():
        me = db.session.get(User, ids["me"])
        me.language = language
        db.session.commit()
        if language == "de":
            sites.create("Zweiter <Laden>")  # two sites: rows name theirs
    shopper = Customer(app, first_product_id(app))
    inquiry_id = shopper.says("Is it <b>waterproof</b>?")["inquiry_id"]
    with app.app_context():
        inquiries.assign(inquiry_id, db.session.get(User, ids["me"]), ids["bo"])  # the row names Bo
    listing = Stream(client, "?status=all")
    listing.until_quiet()

    # A long follow-up (the row shows its start), with markup to escape.
    events = listing.until_quiet() if shopper.says("And <i>in blue</i>? " * 9) else []
    row = live_row(events, inquiry_id)
    assert row == page_rows(client, "?status=all")[inquiry_id]
    assert "&lt;i&gt;in blue&lt;/i&gt;" in row and "<i>" not in row and ">Bo<" in row
    assert ("2 neu" if language == "de" else "2 new") in row  # both messages unread
    assert ('class="site-name"' in row) == (language == "de")

    # Files with a text: the row names them (a paper clip, "photo" in the page's language).
    upload = [(png(), "<b>shot</b>.png")]
    assert api_send(shopper.client, shopper.product_id, shopper.token, "See <u>this</u>", upload).status_code == 201
    row = live_row(listing.until_quiet(), inquiry_id)
    assert row == page_rows(client, "?status=all")[inquiry_id]
    assert 'class="clip"' in row and ("Foto · See &lt;u&gt;" if language == "de" else "photo · See &lt;u&gt;") in row

    # Read by the admin: the row moves live, and is still the row of a reload.
    with app.test_request_context():
        conversations.mark_read(inquiry_id, reader="admin")
    row = live_row(listing.until_quiet(), inquiry_id)
    assert "unread-pill" not in row and row == page_rows(client, "?status=all")[inquiry_id]
    listing.close()


def test_a_row_that_stops_matching_leaves_the_list_live(quick, admin):
    app = quick
    client, _, ids = admin
    inquiry_id = Customer(app, first_product_id(app)).says("Hello?")["inquiry_id"]
    waiting = Stream(client, "?status=waiting")
    waiting.until_quiet()
    with app.app_context():
        inquiries.respond(inquiry_id, db.session.get(User, ids["me"]), "Hi!")
    events = waiting.until_quiet()
    assert str(inquiry_id) in of(events, Event.REMOVE)
    assert not [html for html in of(events, Event.ROW) if f'id="inq-{inquiry_id}"' in html]
    waiting.close()


@pytest.fixture
def statements(app, monkeypatch):
    """The SQL statements admin streams run while they handle an event."""
    seen, inside = [], []
    real = AdminStream.handle

    def handle(self, event):
        inside.append(True)
        try:
            return real(self, event)
        finally:
            inside.pop()

    def executed(conn, cursor, statement, *args):
        if inside:
            seen.append(statement)

    monkeypatch.setattr(AdminStream, "handle", handle)
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", executed)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", executed)


def test_a_list_without_a_search_runs_no_statement_for_a_customers_message(quick, admin, statements):
    app = quick
    client, _, _ = admin
    shopper = Customer(app, first_product_id(app))
    inquiry_id = shopper.says("Is it waterproof?")["inquiry_id"]
    lists = [Stream(client, query) for query in ("?status=waiting", "?status=all&assignee=mine", "?status=pending")]
    for page in lists:
        page.until_quiet()
    del statements[:]
    shopper.says("And in blue?")
    rows = [live_row(page.until_quiet(), inquiry_id) for page in lists[::2]]
    assert not of(lists[1].until_quiet(), Event.ROW)  # nobody's assigned: not "mine"
    assert rows[0] == rows[1]
    assert statements == []

    # A search matches words of the messages: the database decides (its match), the row still comes.
    searching = Stream(client, "?status=all&q=blue")
    searching.until_quiet()
    shopper.says("Blue please")
    assert live_row(searching.until_quiet(), inquiry_id)
    assert statements and all(statement.lstrip().startswith("SELECT") for statement in statements)
    for page in lists + [searching]:
        page.close()


def test_the_python_match_and_the_sql_filters_agree(app, admin):
    """Every filter combination (q aside), on inquiries of every kind, of two sites."""
    _, _, ids = admin
    with app.app_context():
        me, bo = db.session.get(User, ids["me"]), db.session.get(User, ids["bo"])
        first = first_product_id(app)
        second = make_product(name="Tent").id
        other_site, _ = sites.create("Other shop")
        stove = Product(site_id=other_site.id, external_id="stove", name="Stove")
        db.session.add(stove)
        db.session.commit()
        elsewhere = stove.id

        def inquiry(product_id, *changes):
            inquiry_id = conversations.send_customer_message(
                product_id, f"s{len(made)}" * 10, "Hello?"
            ).message.inquiry_id
            for change in changes:
                change(inquiry_id)
            made.append(inquiry_id)

        made = []
        inquiry(first)
        inquiry(second, lambda i: inquiries.respond(i, me, "Yes"))  # in progress, answered
        inquiry(first, lambda i: inquiries.assign(i, me, me.id), lambda i: inquiries.set_priority(i, me, "high"))
        inquiry(elsewhere, lambda i: inquiries.assign(i, me, bo.id), lambda i: inquiries.set_status(i, me, "resolved"))
        inquiry(second, lambda i: inquiries.set_status(i, me, "closed"), lambda i: inquiries.set_priority(i, me, "low"))
        inquiry(elsewhere, lambda i: inquiries.respond(i, bo, "Hm"), lambda i: inquiries.assign(i, me, bo.id))
        rows = [list_rows.record(list_rows.fresh(i), "page", None) for i in made]
        assert {r.status for r in rows} == set(INQUIRY_STATUSES)

        checked = 0
        combinations = itertools.product(
            INQUIRY_STATUSES + ("all",),
            (False, True),
            ("",) + PRIORITIES,
            ("mine", "unassigned", "everyone", str(bo.id)),
            (None, first, second, elsewhere),
            (None, frozenset({other_site.id}), frozenset()),
        )
        for status, waiting, priority, assignee, product_id, site_ids in combinations:
            filters = inquiries.Filters(status, priority, assignee, product_id, "", waiting)
            query = inquiries._filtered(filters, access.inquiry_condition_for(site_ids), me.id)
            in_sql = set(
                db.session.scalars(query.with_only_columns(ProductInquiry.id).where(ProductInquiry.id.in_(made)))
            )
            in_python = {r.inquiry_id for r in rows if filters.matches(r, me.id, site_ids)}
            assert in_python == in_sql, filters
            checked += bool(in_sql)
        assert checked > 100  # the combinations do find rows


def test_the_kept_counts_are_what_a_count_finds(app, admin):
    """Sends, answers, notes, reads, a reopen, status lines, a rating: the inquiry's counts
    equal a fresh COUNT of its messages after each."""
    _, _, ids = admin
    with app.app_context():
        me = db.session.get(User, ids["me"])
        product_id = first_product_id(app)
        session = "c" * 30

        def send(text):
            return conversations.send_customer_message(product_id, session, text).message

        inquiry_id = send("One").inquiry_id

        def check():
            db.session.rollback()  # a fresh snapshot (MariaDB)
            inquiry = db.session.get(ProductInquiry, inquiry_id)
            of_it = sa.select(sa.func.count()).where(ProductMessage.inquiry_id == inquiry_id)
            unread = of_it.where(ProductMessage.sender_type == "customer", ProductMessage.is_read.is_(False))
            counted = (db.session.scalar(of_it), db.session.scalar(unread))
            assert (inquiry.message_count, inquiry.unread_count) == counted
            return counted

        steps = [
            lambda: send("Two"),
            lambda: inquiries.respond(inquiry_id, me, "Answer"),  # and "Marked in progress"
            lambda: notes.add(inquiry_id, me, "A note"),
            lambda: conversations.mark_read(inquiry_id, reader="admin", message_ids=[send("Three").id]),
            lambda: conversations.mark_read(inquiry_id, reader="admin"),
            lambda: conversations.mark_read(inquiry_id, reader="admin"),  # nothing left to read
            lambda: send("Four"),
            lambda: conversations.mark_read(inquiry_id, reader="customer"),  # the shop's answers: no change
            lambda: inquiries.set_status(inquiry_id, me, "resolved"),  # a note and "Marked as answered"
            lambda: ratings.rate(db.session.get(ProductInquiry, inquiry_id), "good"),
            lambda: send("Five"),  # reopens: the message and a note
            lambda: inquiries.assign(inquiry_id, me, me.id),
        ]
        seen = [check()]
        for step in steps:
            step()
            seen.append(check())
        assert seen[0] == (1, 1) and seen[-1][0] > 10 and seen[-1][1] == 2  # "Four" and "Five"
        # The list page shows the kept counts.
        [row] = inquiries.rows_for([db.session.get(ProductInquiry, inquiry_id)])
        assert (row.message_count, row.unread_count, row.last_message.message_text) == (*seen[-1], "Five")


def test_a_row_whose_event_overtook_a_newer_ones_does_not_undo_it(quick, admin):
    """One inquiry's changes commit in order, but two workers may publish their events in
    any order: a list that got the newer row ignores the older one arriving after it."""
    from chat.live import current_broker, events

    app = quick
    client, _, ids = admin
    shopper = Customer(app, first_product_id(app))
    inquiry_id = shopper.says("Is it waterproof?")["inquiry_id"]
    listing = Stream(client, "?status=all")
    listing.until_quiet()
    with app.app_context():
        # The row as a slow worker built it (unassigned), before Bo was assigned.
        older = list_rows.record(list_rows.fresh(inquiry_id), "rating")
    with app.app_context():
        inquiries.assign(inquiry_id, db.session.get(User, ids["me"]), ids["bo"])
    newer = live_row(listing.until_quiet(), inquiry_id)
    assert ">Bo<" in newer

    current_broker(app).publish_many([(events.ADMIN_LIST, older.wire())])
    assert of(listing.until_quiet(), Event.ROW) == []  # the older row is not shown over it
    # A later change still comes through.
    with app.test_request_context():
        conversations.mark_read(inquiry_id, reader="admin")
    latest = live_row(listing.until_quiet(), inquiry_id)
    assert ">Bo<" in latest and "unread-pill" not in latest
    listing.close()
