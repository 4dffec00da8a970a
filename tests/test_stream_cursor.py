"""A stream never sends a message id at or below its cursor, and its cursor never passes
a message that is still on its way: a retried send, events published out of order and
transactions that commit out of order still give every message once, in order, across
reconnects with Last-Event-ID."""

import re
import threading
import uuid

import pytest
import sqlalchemy as sa

from chat.extensions import db
from chat.live import events
from chat.live.names import Event
from chat.models import ProductMessage, User
from chat.services import conversations, inquiries, notes, search

from .chat_helpers import Shopper, first_product_id, message_ids


@pytest.fixture
def quick(app):
    app.config["SSE_HEARTBEAT_SECONDS"] = 0.2
    return app


class Reader:
    """An SSE response of the test client, read event by event as (type, id, data)."""

    def __init__(self, response):
        assert response.status_code == 200, response.get_data(as_text=True)
        self.response = response
        self.chunks = iter(response.response)
        self.pending = []

    def _next(self):
        while not self.pending:
            chunk = next(self.chunks, None)
            if chunk is None:
                raise AssertionError("the stream ended")
            self.pending = [block for block in chunk.decode().split("\n\n") if block.strip()]
        text = self.pending.pop(0)
        if text.startswith(":") or text.startswith("retry:"):
            return ("comment", None, text)
        fields = {}
        for line in text.strip().split("\n"):
            key, _, value = line.partition(":")
            fields.setdefault(key, []).append(value)
        return (fields.get("event", ["message"])[0], (fields.get("id") or [None])[0], "\n".join(fields.get("data", [])))

    def until_quiet(self, limit=200):
        """Every event up to the next heartbeat (the first call also reads the retry hint)."""
        got = []
        for _ in range(limit):
            kind, id_, data = self._next()
            if kind == "comment":
                if data.startswith(":"):
                    return got
                continue
            got.append((kind, id_, data))
        raise AssertionError(got)

    def close(self):
        self.response.close()


def ids(events_):
    return [int(id_) for kind, id_, _ in events_ if kind == Event.MESSAGE]


def shopper_stream(shopper, product=1, after=None, last_event_id=None):
    ticket = shopper.post("/stream-ticket").get_json()["ticket"]
    url = f"/embed/{shopper.site}/stream?product={product}&ticket={ticket}"
    if after is not None:
        url += f"&after={after}"
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    return Reader(shopper.client.get(url, headers=headers, buffered=False))


def admin_stream(client, inquiry_id, after=None, last_event_id=None):
    url = f"/admin/stream?inquiry={inquiry_id}" + (f"&after={after}" if after is not None else "")
    headers = {"Last-Event-ID": str(last_event_id)} if last_event_id is not None else {}
    return Reader(client.get(url, headers=headers, buffered=False))


def sent_id(response):
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    return message_ids(response.get_data(as_text=True))[-1]


def stored_ids(app, inquiry_id, viewer="admin"):
    with app.app_context():
        query = sa.select(ProductMessage.id).where(ProductMessage.inquiry_id == inquiry_id)
        if viewer == "customer":
            query = query.where(conversations.customer_visible())
        return db.session.scalars(query.order_by(ProductMessage.id)).all()


def stored_inquiry(app):
    from chat.models import ProductInquiry

    with app.app_context():
        return db.session.scalar(sa.select(ProductInquiry.id).order_by(ProductInquiry.id.desc()))


def test_a_retried_send_is_not_sent_again_to_a_shoppers_stream_past_it(quick, demo):
    shopper = Shopper(quick)
    client_id = str(uuid.uuid4())
    first = sent_id(shopper.send("1", "Do you ship to Norway?", client_id))
    stream = shopper_stream(shopper, after=first)
    assert [kind for kind, _, _ in stream.until_quiet()] == [Event.READY]

    # The widget retries a send whose answer it never got: the same client id.
    again = shopper.send("1", "Do you ship to Norway?", client_id)
    assert again.status_code == 200 and sent_id(again) == first
    assert ids(stream.until_quiet()) == []
    later = sent_id(shopper.send("1", "And to Iceland?"))
    assert ids(stream.until_quiet()) == [later]
    stream.close()


def test_a_retried_answer_is_not_sent_again_to_an_inquiry_page_past_it(quick, admin):
    client, token, _ = admin
    shopper = Shopper(quick)
    shopper.send("1", "Is it waterproof?")
    inquiry_id = stored_inquiry(quick)
    client_id = str(uuid.uuid4())

    def answer():
        return client.post(
            f"/admin/inquiries/{inquiry_id}/messages",
            data={"message_text": "Yes, fully.", "client_message_id": client_id},
            headers={"HX-Request": "true", "X-CSRFToken": token},
        )

    answered = sent_id(answer())
    last = stored_ids(quick, inquiry_id)[-1]  # the answer and its "Marked in progress" note
    page = admin_stream(client, inquiry_id, after=last)
    assert ids(page.until_quiet()) == []
    assert sent_id(answer()) == answered
    assert ids(page.until_quiet()) == []
    page.close()


class HeldPublish:
    """Holds the after-commit events of one message until released: the worker that
    stored it is slow to publish (another process, a busy greenlet), and a later
    message's events overtake it."""

    def __init__(self, monkeypatch):
        self.message_id = None
        self.held = threading.Event()
        self.release = threading.Event()
        real = events._send

        def send(app, pending):
            if self.message_id is None and any(event.get("type") == Event.MESSAGE for _, event in pending):
                self.message_id = next(e["id"] for _, e in pending if e.get("type") == Event.MESSAGE)
                self.held.set()
                assert self.release.wait(10)
            real(app, pending)

        monkeypatch.setattr(events, "_send", send)


def held_answer(app, monkeypatch, inquiry_id, admin_id, text="S, M and L."):
    """An admin's answer committed in another thread whose events are held (``HeldPublish``):
    returns (held, thread) once it is committed; ``held.release.set()`` lets its events go."""
    held = HeldPublish(monkeypatch)

    def answer():
        with app.app_context():
            inquiries.respond(inquiry_id, db.session.get(User, admin_id), text)

    slow = threading.Thread(target=answer)
    slow.start()
    assert held.held.wait(10)  # the answer is committed; its events wait
    return held, slow


@pytest.mark.parametrize("viewer", ["shopper", "inquiry page"])
def test_events_that_overtake_each_other_still_give_every_message_once_in_order(quick, admin, monkeypatch, viewer):
    app = quick
    client, _, ids_ = admin
    shopper = Shopper(app)
    start = sent_id(shopper.send("1", "Which sizes?"))
    inquiry_id = stored_inquiry(app)
    if viewer == "shopper":
        reopen = lambda last: shopper_stream(shopper, after=start, last_event_id=last)  # noqa: E731
    else:
        reopen = lambda last: admin_stream(client, inquiry_id, after=start, last_event_id=last)  # noqa: E731
    stream = reopen(None)
    assert ids(stream.until_quiet()) == []

    held, slow = held_answer(app, monkeypatch, inquiry_id, ids_["me"])
    later = sent_id(shopper.send("1", "And XL?"))
    got = ids(stream.until_quiet())
    # The tab goes away now (its last id is the newest it saw) and comes back.
    stream.close()
    held.release.set()
    slow.join(10)
    again = reopen(got[-1] if got else None)
    got += ids(again.until_quiet())
    again.close()
    viewer_type = "customer" if viewer == "shopper" else "admin"
    expected = [i for i in stored_ids(app, inquiry_id, viewer_type) if i > start]
    assert held.message_id in expected and later in expected
    assert got == expected


class HeldCommit:
    """Holds one transaction open between its message's INSERT (its id is taken) and its
    COMMIT, until released; another request meanwhile stores a later message."""

    def __init__(self, monkeypatch, text):
        self.inserted = threading.Event()
        self.release = threading.Event()
        real = search.index_message

        def index_message(inquiry_id, message_text):
            real(inquiry_id, message_text)
            if message_text == text:
                self.inserted.set()
                assert self.release.wait(20)

        monkeypatch.setattr(search, "index_message", index_message)


# SQLite lets one transaction write at a time: a second writer waits for the first's
# commit whatever the app does, so there is no out-of-order commit to hold open there.
mariadb_only = pytest.mark.parametrize(
    "database_url", [pytest.param("mariadb", marks=pytest.mark.mariadb)], indirect=True
)


@mariadb_only
def test_a_note_that_commits_after_a_later_one_is_not_skipped_by_the_inquiry_page(quick, admin, monkeypatch):
    app = quick
    client, _, ids_ = admin
    shopper = Shopper(app)
    start = sent_id(shopper.send("1", "Is the strap adjustable?"))
    inquiry_id = stored_inquiry(app)
    page = admin_stream(client, inquiry_id, after=start)
    assert ids(page.until_quiet()) == []

    # Two admins write private notes at once (a note changes nothing on the inquiry row,
    # so nothing else orders the two transactions): the first is slow to commit.
    held = HeldCommit(monkeypatch, "Check with the workshop first")

    def note(admin_id, text):
        with app.app_context():
            notes.add(inquiry_id, db.session.get(User, admin_id), text)

    slow = threading.Thread(target=note, args=(ids_["me"], "Check with the workshop first"))
    slow.start()
    assert held.inserted.wait(10)
    fast = threading.Thread(target=note, args=(ids_["bo"], "I asked them yesterday"))
    fast.start()
    fast.join(1.5)  # Bo's note commits now, or waits for the first one's transaction
    got = ids(page.until_quiet())
    page.close()
    held.release.set()
    slow.join(10)
    fast.join(10)
    again = admin_stream(client, inquiry_id, after=start, last_event_id=got[-1] if got else None)
    got += ids(again.until_quiet())
    again.close()
    expected = [i for i in stored_ids(app, inquiry_id) if i > start]
    assert len(expected) == 2 and got == expected


@mariadb_only
def test_the_list_catches_up_on_a_row_whose_message_committed_after_the_page_loaded(quick, admin, monkeypatch):
    app = quick
    client, _, _ = admin
    pid = first_product_id(app)
    late, early = Shopper(app), Shopper(app)
    # Both conversations exist (a first message takes locks on new rows that a held
    # transaction would keep other newcomers waiting on).
    late.send(str(pid), "Hello")
    early.send(str(pid + 1), "Hello")
    held = HeldCommit(monkeypatch, "Late to commit")
    sending = threading.Thread(target=lambda: late.send(str(pid), "Late to commit"))
    sending.start()
    assert held.inserted.wait(10)
    early.send(str(pid + 1), "Committed first")  # a higher id, committed first
    page = client.get("/admin").get_data(as_text=True)
    stream_url = re.search(r'sse-connect="([^"]+)"', page).group(1).replace("&amp;", "&")
    held.release.set()
    sending.join(10)  # committed and announced while no list stream listened
    assert "Committed first" in page and "Late to commit" not in page

    listing = Reader(client.get(stream_url, buffered=False))
    rows = [data for kind, _, data in listing.until_quiet() if kind == Event.ROW]
    listing.close()
    assert any("Late to commit" in row for row in rows)


def test_a_list_stream_opened_after_its_page_sends_no_row_that_did_not_change(quick, admin):
    # Rows the page shows as they are must not be replaced (and flash) when its stream
    # opens, however recent their messages.
    app = quick
    client, _, _ = admin
    pid = first_product_id(app)
    for offset in range(3):
        Shopper(app).send(str(pid + offset), "Just now")
    page = client.get("/admin").get_data(as_text=True)
    assert page.count('class="inquiry-row') == 3
    stream_url = re.search(r'sse-connect="([^"]+)"', page).group(1).replace("&amp;", "&")
    listing = Reader(client.get(stream_url, buffered=False))
    assert [kind for kind, _, _ in listing.until_quiet()] == [Event.WAITING, Event.READY]
    listing.close()


def test_the_list_cursor_stops_below_an_id_that_may_still_be_on_its_way(app, demo):
    from datetime import timedelta

    from chat.models import utcnow

    with app.app_context():
        ids_ = [conversations.send_customer_message(1, uuid.uuid4().hex, f"q{i}").message.id for i in range(5)]
        assert inquiries.list_cursor() == ids_[-1]
        # An id handed out and not visible (here: gone; in life: not committed yet).
        db.session.execute(sa.delete(ProductMessage).where(ProductMessage.id == ids_[2]))
        db.session.commit()
        assert inquiries.list_cursor() == ids_[1]
        # Older than a minute, it is a message that will never come.
        old = utcnow() - timedelta(seconds=inquiries.LATE_COMMIT_SECONDS + 1)
        db.session.execute(sa.update(ProductMessage).values(created_at=old))
        db.session.commit()
        assert inquiries.list_cursor() == ids_[-1]
        # A hole just after the last old message.
        newer = conversations.send_customer_message(1, uuid.uuid4().hex, "later").message.id
        conversations.send_customer_message(1, uuid.uuid4().hex, "later still")
        db.session.execute(sa.delete(ProductMessage).where(ProductMessage.id == newer))
        db.session.commit()
        assert inquiries.list_cursor() == ids_[-1]


def test_a_cursor_reaches_only_the_streams_own_conversation(quick, demo):
    alice, mallory = Shopper(quick), Shopper(quick)
    sent_id(alice.send("1", "alice's private question"))
    sent_id(mallory.send("2", "mallory asks elsewhere"))
    # From the start of everything, on the product Alice asked about: nothing of hers.
    stream = shopper_stream(mallory, product=1, after=0)
    assert stream.until_quiet() == [(Event.READY, None, "0")]
    sent_id(alice.send("1", "alice again"))
    assert stream.until_quiet() == []
    mine = sent_id(mallory.send("1", "mallory here"))
    got = stream.until_quiet()
    assert ids(got) == [mine] and all("alice" not in data for _, _, data in got)
    stream.close()
