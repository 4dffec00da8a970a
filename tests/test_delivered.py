"""Delivered means delivered: a shopper's message turns "Delivered" once a device of the shop
got it (any admin page's stream, or a push the push service accepted), live in the
shopper's stream; the marks are stored in batches (chat/live/delivered.py), one write for
many pages, and kept through a database outage."""

from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from chat import create_app, push_delivery
from chat.demo import seed_demo
from chat.extensions import db
from chat.live import records
from chat.live.delivered import delivered_marks
from chat.live.names import Event
from chat.models import Product, ProductInquiry, ProductMessage, PushSubscription, User

from . import backends
from .chat_helpers import Statements, admin_login, dispose_app, module_sqlite_app
from .conftest import _config, _empty_tables
from .push_service import Browser, PushService
from .tcp_proxy import TCPProxy
from .test_event_schemas import captured
from .test_inbox import Customer, Stream, of
from .test_live import wait_for


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    app = module_sqlite_app(
        tmp_path_factory.mktemp("delivered"),
        SSE_HEARTBEAT_SECONDS=0.2,
        PUSH_ALLOW_PRIVATE_ENDPOINTS=True,
        PUSH_DELIVER_AT_ONCE=False,  # each test sends its pushes itself
        PUSH_FIRST_RETRY_SECONDS=0,
    )
    yield app
    dispose_app(app)


@pytest.fixture(scope="module")
def admin(app):
    """The demo admin's browser: (client, CSRF token)."""
    client = app.test_client()
    return client, admin_login(client, *app.demo_login)


class ShopperStream(Stream):
    """The shopper's own SSE stream (the widget's), through a stream ticket."""

    def __init__(self, app, shopper):
        with app.app_context():
            external_id = db.session.get(Product, shopper.product_id).external_id
        client = shopper.client
        ticket = client.post("/embed/demo/stream-ticket", headers={"X-Chat-Session": shopper.token}).get_json()
        self.response = client.get(
            f"/embed/demo/stream?ticket={ticket['ticket']}&product={external_id}", buffered=False
        )
        assert self.response.status_code == 200
        self.chunks, self.pending = iter(self.response.response), []
        while self._next()[0] != Event.READY:
            pass

    def until_delivered(self, message_id, limit=20):
        """The marks events up to the one that says ``message_id`` was delivered."""
        for _ in range(limit):
            marks = of(self.until_quiet(), Event.MARKS)
            if any(f'id="mark-{message_id}" data-state="delivered"' in html for html in marks):
                return marks
        raise AssertionError(f"message {message_id} never showed as delivered")


def state(app, message_id):
    with app.app_context():
        try:
            return db.session.get(ProductMessage, message_id).state
        finally:
            db.session.remove()


def stored(app):
    """What the batched marks still hold is written now (as the writer does within 0.2 s)."""
    assert delivered_marks(app).flush()


def test_only_the_list_open_delivers_a_shoppers_message_and_their_widget_shows_it(app, admin):
    client, _ = admin
    listing = Stream(client, "?status=waiting")
    shopper = Customer(app, 1)
    first = shopper.says("Does it come in green?")
    widget = ShopperStream(app, shopper)
    # The widget writing the shopper's own message to them delivers nothing.
    second = shopper.says("Or in blue?")
    widget.until_quiet()
    stored(app)
    assert state(app, second["id"]) == "sent"

    # The list page (no inquiry page open) shows the row and the notice: delivered.
    events = listing.until_quiet()
    assert of(events, Event.ROW) and of(events, Event.CUSTOMER_WROTE)
    widget.until_delivered(second["id"])
    assert state(app, first["id"]) == state(app, second["id"]) == "delivered"
    listing.close()
    widget.close()


def test_with_nothing_open_a_message_stays_sent(app):
    shopper = Customer(app, 2)
    sent = shopper.says("Anyone there?")
    stored(app)
    assert state(app, sent["id"]) == "sent"


def test_an_answer_is_delivered_when_the_shoppers_stream_wrote_it_shown_on_the_inquiry_page(app, admin):
    client, token = admin
    shopper = Customer(app, 3)
    inquiry_id = shopper.says("Is it heavy?")["inquiry_id"]
    widget = ShopperStream(app, shopper)
    page = Stream(client, f"?inquiry={inquiry_id}")
    page.until_quiet()
    answer = client.post(
        f"/api/admin/inquiries/{inquiry_id}/respond", json={"message_text": "1.2 kg"}, headers={"X-CSRFToken": token}
    )
    assert answer.status_code == 201, answer.get_data(as_text=True)
    answer_id = answer.get_json()["id"]
    assert any("1.2 kg" in html for html in of(widget.until_quiet(), Event.MESSAGE))
    for _ in range(20):
        marks = of(page.until_quiet(), Event.MARKS)
        if any(f'id="mark-{answer_id}" data-state="delivered"' in html for html in marks):
            break
    else:
        raise AssertionError("the inquiry page never showed the answer delivered")
    page.close()
    widget.close()


@pytest.mark.parametrize("answer", [201, 404, 410, 500])
def test_a_push_the_push_service_accepts_delivers_and_a_refused_one_does_not(app, admin, answer):
    client, token = admin
    with PushService([answer]) as service:
        subscribed = client.post(
            "/api/admin/push-subscriptions",
            json=Browser().subscription(service.endpoint()),
            headers={"X-CSRFToken": token},
        )
        assert subscribed.status_code == 201
        shopper = Customer(app, 4)
        sent = shopper.says("Is it in stock?")  # no admin page is open
        with app.app_context():
            push_delivery.deliver_due()
        assert len(service.wait_for(1)) == 1
    assert state(app, sent["id"]) == ("delivered" if answer == 201 else "sent")
    with app.app_context():
        db.session.execute(sa.delete(PushSubscription))
        db.session.commit()


def test_many_pages_receiving_one_message_cost_one_write(app, admin):
    client, _ = admin
    shopper = Customer(app, 5)
    inquiry_id = shopper.says("Hello")["inquiry_id"]
    pages = [Stream(client, "?status=waiting") for _ in range(3)]
    pages += [Stream(client, f"?inquiry={inquiry_id}") for _ in range(2)]
    pages += [Stream(client, "")]  # any other admin page: the notice only
    for page in pages:
        page.until_quiet()
    marks = delivered_marks(app)
    stored(app)
    statements = []

    def count(conn, cursor, statement, *args):
        if "product_messages" in statement and not statement.lstrip().upper().startswith("SELECT"):
            statements.append(statement)

    marks.interval = 30  # hold the marks until the test stores them (no timing in this test)
    sent = shopper.says("A second question")
    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        for page in pages:
            page.until_quiet()
        assert marks.pending() == {(inquiry_id, "admin"): {sent["id"]}}
        writes = marks.writes
        stored(app)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
        marks.interval = 0.2
        marks._wake.set()
    assert marks.writes == writes + 1 and len(statements) == 1, statements
    assert state(app, sent["id"]) == "delivered"
    for page in pages:
        page.close()


@pytest.mark.mariadb
def test_marks_wait_through_a_database_outage_and_are_stored_after():
    backends.require("mariadb")
    parts = urlsplit(backends.MYSQL_URL.replace("mysql+pymysql", "mysql"))
    name, url = backends.create_mysql_database()
    proxy = TCPProxy(parts.hostname, parts.port or 3306).start()
    through = url.replace(urlsplit(url).netloc, f"{urlsplit(url).username}@127.0.0.1:{proxy.port}")
    app = create_app(_config(through))
    try:
        with app.app_context():
            db.create_all()
            seed_demo()
        sent = Customer(app, 1).says("Hello?")
        marks = delivered_marks(app)
        proxy.cut()
        marks.add(sent["inquiry_id"], "admin", [sent["id"]])
        assert not marks.flush()  # the database is away: nothing stored, nothing lost
        assert marks.pending() == {(sent["inquiry_id"], "admin"): {sent["id"]}}
        proxy.restore()
        assert wait_for(lambda: not marks.pending(), timeout=20)
        assert state(app, sent["id"]) == "delivered"
    finally:
        proxy.cut()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        backends.drop_mysql_database(name)


@pytest.fixture
def each_backend(database_url):
    """A fresh app with the demo on each database of the suite's matrix (SQLite, MariaDB)."""
    app = create_app(_config(database_url))
    with app.app_context():
        if database_url.startswith("sqlite"):
            db.create_all()
        else:
            _empty_tables()
        seed_demo()
    yield app
    dispose_app(app)


def conversations_with_answers(app, count):
    """``count`` shoppers' inquiries about product 1, each with its question and the shop's
    answer, by inquiry id: [(inquiry id, shopper's session id, question id, answer id)]."""
    from chat.services import inquiries

    asked = [Customer(app, 1).says(f"Question {n}") for n in range(count)]
    found = []
    with app.app_context(), app.test_request_context():
        admin = db.session.scalar(sa.select(User).order_by(User.id))
        for question in asked:
            answer = inquiries.respond(question["inquiry_id"], admin, "Yes.").message
            session_id = db.session.get(ProductInquiry, question["inquiry_id"]).session_id
            found.append((question["inquiry_id"], session_id, question["id"], answer.id))
        db.session.remove()
    return sorted(found)


def published_marks(published):
    """[(channel, Marks)] of what the broker was handed (``captured``)."""
    assert {kind for _, kind, _ in published} <= {Event.MARKS.value}, published
    return [(channel, records.decode({"type": kind, "data": data})) for channel, kind, data in published]


def delivered(message_id):
    return ((message_id, "delivered", ""),)


@pytest.mark.parametrize("count", [2, 8])
def test_one_flush_marks_any_number_of_inquiries_in_two_statements_and_tells_each_sender(each_backend, count):
    app = each_backend
    talks = conversations_with_answers(app, count)
    marks = delivered_marks(app)
    for inquiry_id, _, question_id, _ in talks:
        marks.add(inquiry_id, "admin", [question_id])  # a page of the shop got the question
    for inquiry_id, _, _, answer_id in talks[::2]:
        marks.add(inquiry_id, "customer", [answer_id])  # the shopper's widget got the answer
    # Another inquiry's answer handed with the first one's: not a mark of that inquiry.
    marks.add(talks[0][0], "customer", [talks[1][3]])
    with captured(app) as published, Statements(app) as statements:
        stored(app)

    # One look-up of what is not marked yet and one UPDATE, whatever the number of inquiries.
    assert len(statements.seen) == 2, statements.seen
    expected = []
    for n, (inquiry_id, session_id, question_id, answer_id) in enumerate(talks):
        expected.append(
            (f"customer:{session_id}", records.Marks(inquiry_id, 1, "admin", "delivered", delivered(question_id)))
        )
        if n % 2 == 0:
            answer = records.Marks(inquiry_id, 1, "customer", "delivered", delivered(answer_id))
            expected.append((f"inquiry:{inquiry_id}", answer))
    assert published_marks(published) == expected
    assert [state(app, answer_id) for _, _, _, answer_id in talks] == ["delivered", "sent"] * (count // 2)
    assert {state(app, question_id) for _, _, question_id, _ in talks} == {"delivered"}


def test_a_flush_skips_the_messages_erased_meanwhile_and_marks_the_others(each_backend):
    app = each_backend
    talks = conversations_with_answers(app, 3)
    marks = delivered_marks(app)
    for inquiry_id, _, question_id, _ in talks:
        marks.add(inquiry_id, "admin", [question_id])
    erased = talks[1][0]

    def erase():
        # Another transaction erases one inquiry's messages between the look-up and the UPDATE.
        with statements.engine.begin() as other:
            other.execute(sa.delete(ProductMessage).where(ProductMessage.inquiry_id == erased))

    with captured(app) as published, Statements(app) as statements:
        statements.before("UPDATE", erase)
        stored(app)
    assert not statements.hooks  # the erasure ran
    expected = [
        (f"customer:{session_id}", records.Marks(inquiry_id, 1, "admin", "delivered", delivered(question_id)))
        for inquiry_id, session_id, question_id, _ in talks
        if inquiry_id != erased
    ]
    assert published_marks(published) == expected
    assert [state(app, talks[0][2]), state(app, talks[2][2])] == ["delivered", "delivered"]
    assert not marks.pending()


def test_messages_a_request_has_loaded_show_the_marks_it_stores(each_backend):
    # The marks' statements are built once (their ids come at execution), so the ORM does
    # not update the messages the session holds: _mark_loaded does. What marks in the
    # caller's transaction (commit=False) and then renders must show the new marks.
    from chat.services import conversations

    app = each_backend
    (inquiry_id, _, question_id, answer_id), (_, _, other_question, _) = conversations_with_answers(app, 2)
    with app.app_context():
        question, answer, other = (db.session.get(ProductMessage, i) for i in (question_id, answer_id, other_question))
        assert (question.state, answer.state) == ("sent", "sent")
        assert conversations.mark_delivered(inquiry_id, "admin", [question_id], commit=False) == [question_id]
        assert question.state == "delivered" and answer.state == "sent"
        assert conversations.mark_read(inquiry_id, "customer") == [answer_id]
        assert answer.state == "read" and answer.delivered_at is not None
        assert other.state == "sent"  # another inquiry's, loaded too: untouched
        db.session.remove()
    assert [state(app, i) for i in (question_id, answer_id, other_question)] == ["delivered", "read", "sent"]
