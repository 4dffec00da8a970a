"""A stream renders a new message from its live record when the record follows exactly what
the stream showed, and reads the conversation from the database otherwise. Either way the
viewer gets the same bytes: the record path is only cheaper (no read per stream)."""

import re
import uuid

import pytest

from chat.admin.live import AdminStream
from chat.embed.live import ShopperStream
from chat.live.names import Event

from .chat_helpers import Shopper
from .test_stream_cursor import admin_stream, held_answer, ids, sent_id, shopper_stream, stored_ids, stored_inquiry


@pytest.fixture
def quick(app):
    app.config["SSE_HEARTBEAT_SECONDS"] = 0.2
    return app


@pytest.fixture
def reads(monkeypatch):
    """The message ids after which streams read their conversation from the database."""
    seen = []
    for cls in (AdminStream, ShopperStream):
        real = cls.messages_after

        def messages_after(self, after, real=real):
            seen.append(after)
            return real(self, after)

        monkeypatch.setattr(cls, "messages_after", messages_after)
    return seen


MARK = re.compile(r'<span class="mark .*?</span></span>', re.S)


def messages(events_):
    """{id: HTML} of the message events, without their marks (a MARKS event moves those
    after a message is shown: a reload shows where they are by then)."""
    return {int(id_): MARK.sub("", data) for kind, id_, data in events_ if kind == Event.MESSAGE}


def answer(client, token, inquiry_id, text, kind=None):
    form = {"text" if kind == "note" else "message_text": text, "client_message_id": str(uuid.uuid4())}
    url = f"/admin/inquiries/{inquiry_id}/" + ("notes" if kind == "note" else "messages")
    return client.post(url, data=form, headers={"HX-Request": "true", "X-CSRFToken": token})


def test_live_messages_are_rendered_from_the_record_as_a_reload_would_show_them(quick, admin, reads):
    client, token, _ = admin
    shopper = Shopper(quick)
    sent_id(shopper.send("1", "Is it <b>waterproof</b>?"))
    inquiry_id = stored_inquiry(quick)
    answer(client, token, inquiry_id, "Marked in progress first")  # the first answer leaves a workflow note
    page_start = stored_ids(quick, inquiry_id)[-1]
    shop_start = stored_ids(quick, inquiry_id, "customer")[-1]
    page = admin_stream(client, inquiry_id, after=page_start)
    shop = shopper_stream(shopper, after=shop_start)
    assert ids(page.until_quiet()) == [] and ids(shop.until_quiet()) == []
    del reads[:]

    # Each side writes: a follow-up, an answer, a private note; every stream follows along.
    followup = sent_id(shopper.send("1", "And <i>in blue</i>?\nSize M."))
    live_page, live_shop = messages(page.until_quiet()), messages(shop.until_quiet())
    answered = sent_id(answer(client, token, inquiry_id, "Yes & <em>yes</em>."))
    live_page |= messages(page.until_quiet())
    live_shop |= messages(shop.until_quiet())
    response = answer(client, token, inquiry_id, "Call them <script>x</script>", kind="note")
    assert response.status_code in (200, 201), response.get_data(as_text=True)
    live_page |= messages(page.until_quiet())
    live_shop |= messages(shop.until_quiet())
    page.close()
    shop.close()

    note = max(live_page)
    assert note > answered > followup > page_start
    assert sorted(live_page) == [followup, answered, note]
    assert sorted(live_shop) == [followup, answered]  # the note never reaches the shopper
    # None of the three was read back from the database: each followed what the streams showed.
    assert reads == []

    # The same messages after a reload (a replay, read from the database) are the same bytes.
    replayed_page = messages(admin_stream(client, inquiry_id, after=page_start).until_quiet())
    replayed_shop = messages(shopper_stream(shopper, after=shop_start).until_quiet())
    assert replayed_page == live_page
    assert replayed_shop == live_shop
    # What the shopper wrote is escaped, and each side sees the other's name as it should.
    assert "&lt;i&gt;in blue&lt;/i&gt;" in live_page[followup] and "<i>" not in live_page[followup]
    assert "&lt;script&gt;" in live_page[note] and "<script>" not in live_page[note]
    assert re.search(r'class="who">[^<]+<', live_shop[answered])


def test_a_message_whose_predecessor_the_stream_has_not_shown_is_read_in_order(quick, admin, monkeypatch, reads):
    """The answer's events are slow; the shopper's next message overtakes them: the stream
    must not render it from its record (it would skip the answer), but read both, in order."""
    app = quick
    client, _, ids_ = admin
    shopper = Shopper(app)
    start = sent_id(shopper.send("1", "Which sizes?"))
    stream = shopper_stream(shopper, after=start)
    assert ids(stream.until_quiet()) == []
    inquiry_id = stored_inquiry(app)
    held, slow = held_answer(app, monkeypatch, inquiry_id, ids_["me"])
    del reads[:]
    later = sent_id(shopper.send("1", "And XL?"))
    got = ids(stream.until_quiet())
    held.release.set()
    slow.join(10)
    got += ids(stream.until_quiet())
    stream.close()
    assert got == [held.message_id, later]
    assert reads == [start]  # one read, after what the stream showed


def test_a_shoppers_idle_stream_beats_without_building_a_request_and_an_admins_checks_its_login(quick, admin):
    """At 10,000 idle streams every heartbeat's request context was a CPU cost of its own;
    a shopper's stream asks nothing at a beat, an admin's asks whether the login still holds."""
    from flask import appcontext_pushed

    client, _, _ = admin
    shopper = Shopper(quick)
    sent_id(shopper.send("1", "Hello?"))
    inquiry_id = stored_inquiry(quick)
    pushed = []

    def count(sender, **_):
        pushed.append(sender)

    shop = shopper_stream(shopper)
    shop.until_quiet()  # the replay and ready, up to the first beat
    with appcontext_pushed.connected_to(count, quick):
        for _ in range(3):
            assert shop.until_quiet() == []  # one more beat, nothing else
    shop.close()
    assert pushed == []

    page = admin_stream(client, inquiry_id)
    page.until_quiet()
    with appcontext_pushed.connected_to(count, quick):
        for _ in range(3):
            page.until_quiet()
    page.close()
    assert len(pushed) >= 3  # still_allowed and "still here" at every beat
