"""The inbox never loses a shopper: the "Waiting for us" queue, its badge, and the
admin stream's rows, controls and "a customer wrote" events."""

import json
import re

import pytest
import sqlalchemy as sa
from flask import template_rendered

from chat.extensions import db
from chat.live.names import Event
from chat.models import ProductInquiry, ProductMessage, User
from chat.services import inquiries

from .chat_helpers import first_product_id


def hx(token):
    return {"HX-Request": "true", "X-CSRFToken": token}


class Customer:
    """A shopper using the seed's JSON API (the session travels in X-Chat-Session)."""

    def __init__(self, app, product_id):
        self.client = app.test_client(use_cookies=False)
        self.product_id = product_id
        self.token = None

    def says(self, text):
        headers = {"X-Chat-Session": self.token} if self.token else {}
        response = self.client.post(
            f"/api/products/{self.product_id}/messages", json={"message_text": text}, headers=headers
        )
        assert response.status_code == 201, response.get_data(as_text=True)
        self.token = response.headers.get("X-Chat-Session", self.token)
        return response.get_json()


def listed(client, query=""):
    """Row ids of the panel's list and the header badge's count."""
    page = client.get("/admin" + query).get_data(as_text=True)
    rows = [int(i) for i in re.findall(r'<tr id="inq-(\d+)"', page)]
    badge = int(re.search(r'id="waiting-count" data-count="(\d+)"', page).group(1))
    title = re.search(r"<title>(?:\((\d+)\) )?", page).group(1)
    return rows, badge, int(title or 0)


def api_ids(client, query):
    response = client.get("/api/admin/inquiries" + query)
    assert response.status_code == 200, response.get_data(as_text=True)
    return [i["id"] for i in response.get_json()["inquiries"]]


def state(app, inquiry_id):
    with app.app_context():
        inquiry = db.session.get(ProductInquiry, inquiry_id)
        return inquiry.status, inquiry.waiting_since is not None


def test_waiting_queue_across_answer_follow_up_resolve_and_reopen(app, admin):
    client, token, _ = admin
    pid = first_product_id(app)
    shopper = Customer(app, pid)
    other = Customer(app, pid + 1)
    ask = shopper.says("Is the frame aluminium?")["inquiry_id"]
    other_id = other.says("Does it come in blue?")["inquiry_id"]

    def check(waiting_rows, status):
        rows, badge, title = listed(client)
        # The badge, the tab title and the default view are the same query.
        assert rows == waiting_rows and badge == title == len(rows)
        with app.app_context():
            assert inquiries.waiting_count(None) == len(rows)
        assert state(app, ask)[0] == status
        assert api_ids(client, "?status=waiting") == waiting_rows

    check([ask, other_id], "pending")
    assert api_ids(client, "?status=pending") == [ask, other_id]

    # An answer: the shop owes nothing; it moved to in progress.
    assert (
        client.post(f"/admin/inquiries/{ask}/messages", data={"message_text": "Yes."}, headers=hx(token)).status_code
        == 201
    )
    check([other_id], "in_progress")
    assert api_ids(client, "?status=pending") == [other_id]  # the seed's meaning: the status
    assert api_ids(client, "?status=in_progress") == [ask]
    assert api_ids(client, "?status=in_progress&waiting=true") == []
    assert listed(client, "?status=in_progress")[0] == [ask]

    # A follow-up: waiting again, whatever its status (and for less long than the other).
    shopper.says("And the weight?")
    check([other_id, ask], "in_progress")
    assert api_ids(client, "?status=in_progress&waiting=true") == [ask]
    # waiting=true alone means every status, as the panel's view does (not the seed's pending default).
    assert api_ids(client, "?waiting=true") == [other_id, ask]

    # Resolved without an answer: the customer still waits for one.
    client.put(f"/api/admin/inquiries/{ask}/status", json={"status": "resolved"}, headers=hx(token))
    check([other_id, ask], "resolved")
    assert api_ids(client, "?status=resolved&waiting=true") == [ask]

    # Answered: it leaves the queue, still resolved.
    client.post(f"/api/admin/inquiries/{ask}/respond", json={"message_text": "1.2 kg."}, headers=hx(token))
    check([other_id], "resolved")
    assert api_ids(client, "?status=resolved&waiting=true") == []
    assert api_ids(client, "?waiting=true&status=all") == [other_id]

    # The customer writes again: reopened to pending, waiting, with a note for admins only.
    shopper.says("One more thing: the warranty?")
    check([other_id, ask], "pending")
    assert api_ids(client, "?status=pending") == [other_id, ask]
    notes = client.get(f"/api/admin/inquiries/{ask}").get_json()["messages"]
    assert "Reopened: the customer wrote again" in [m["message_text"] for m in notes]
    customer_view = shopper.client.get(f"/api/products/{pid}/messages", headers={"X-Chat-Session": shopper.token})
    assert "Reopened" not in customer_view.get_data(as_text=True)

    # Closed after an answer: nobody waits; "All" still lists both.
    client.post(f"/api/admin/inquiries/{ask}/respond", json={"message_text": "Two years."}, headers=hx(token))
    client.put(f"/api/admin/inquiries/{ask}/status", json={"status": "closed"}, headers=hx(token))
    check([other_id], "closed")
    assert sorted(listed(client, "?status=all")[0]) == sorted([ask, other_id])
    assert listed(client, "?status=closed")[0] == [ask]
    assert client.get("/api/admin/inquiries?waiting=maybe").status_code == 400


def test_urgent_first_then_the_longest_wait_and_the_badge_on_every_admin_page(app, admin):
    client, token, _ = admin
    pid = first_product_id(app)
    first = Customer(app, pid).says("When does it ship?")["inquiry_id"]
    second = Customer(app, pid + 1).says("Which size for 180 cm?")["inquiry_id"]
    urgent = Customer(app, pid + 2).says("URGENT: it arrived broken, I want a refund")["inquiry_id"]
    assert listed(client)[0] == [urgent, first, second]
    for path in ("/admin/account", "/admin/sites", "/admin/tokens", f"/admin/inquiries/{first}"):
        page = client.get(path).get_data(as_text=True)
        assert 'id="waiting-count" data-count="3"' in page, path
        assert "<title>(3) " in page, path
        assert 'class="site-footer"' not in page, path  # no shop footer in the panel
    assert client.get("/admin/login").status_code in (200, 302)


def test_a_long_queue_shows_as_99_plus(app, admin, monkeypatch):
    """Past WAITING_SHOWN the badge and the title say "99+" (here "2+"), and the count stops there."""
    client, token, _ = admin
    monkeypatch.setattr(inquiries, "WAITING_SHOWN", 2)
    pid = first_product_id(app)
    asked = [Customer(app, pid + n).says("Is this in stock?")["inquiry_id"] for n in range(4)]
    page = client.get("/admin").get_data(as_text=True)
    assert "<title>(2+) " in page and "<b>2+</b>" in page and 'data-count="3"' in page
    assert len(listed(client)[0]) == 4  # the list itself shows them all
    for inquiry_id in asked[:2]:
        assert (
            client.post(
                f"/admin/inquiries/{inquiry_id}/messages", data={"message_text": "Yes."}, headers={"X-CSRFToken": token}
            ).status_code
            < 400
        )
    page = client.get("/admin").get_data(as_text=True)
    assert "<title>(2) " in page and "<b>2</b>" in page and 'data-count="2"' in page


# -- the admin stream --------------------------------------------------------------


class Stream:
    """An admin SSE stream through the test client: events as (type, data) pairs."""

    def __init__(self, client, query=""):
        self.response = client.get("/admin/stream" + query, buffered=False)
        assert self.response.status_code == 200
        self.chunks = iter(self.response.response)
        self.pending = []  # events of a chunk not read yet (one write may carry several)
        while True:  # up to "ready": subscribed, replayed
            if self._next()[0] == "ready":
                break

    def _next(self):
        while not self.pending:
            chunk = next(self.chunks, None)
            if chunk is None:
                raise AssertionError("the stream ended")
            self.pending = [block for block in chunk.decode().split("\n\n") if block.strip()]
        text = self.pending.pop(0)
        if text.startswith(":") or text.startswith("retry:"):
            return ("comment", text)
        fields = {}
        for line in text.strip().split("\n"):
            key, _, value = line.partition(":")
            fields.setdefault(key, []).append(value)
        return (fields.get("event", ["message"])[0], "\n".join(fields.get("data", [])))

    def until_quiet(self, limit=30):
        """Every event up to the next heartbeat (the app's heartbeat is short in these tests)."""
        events = []
        for _ in range(limit):
            kind, data = self._next()
            if kind == "comment":
                return events
            events.append((kind, data))
        raise AssertionError(events)

    def close(self):
        self.response.close()


@pytest.fixture
def quick(app):
    app.config["SSE_HEARTBEAT_SECONDS"] = 0.2
    return app


def of(events, kind):
    return [data for k, data in events if k == kind]


def test_the_list_stream_brings_rows_that_start_waiting_and_removes_rows_that_stop(quick, admin):
    app = quick
    client, token, _ = admin
    pid = first_product_id(app)
    stream = Stream(client, "?status=waiting")
    pending = Stream(client, "?status=pending")
    shopper = Customer(app, pid)
    inquiry_id = shopper.says("Hello, is this <b>in stock</b>?")["inquiry_id"]

    events = stream.until_quiet()
    assert any(f'id="inq-{inquiry_id}"' in html for html in of(events, Event.ROW))
    assert of(events, Event.WAITING) == ["1"]
    [wrote] = [json.loads(d) for d in of(events, Event.CUSTOMER_WROTE)]
    assert wrote == {
        "inquiry_id": inquiry_id,
        "message_id": wrote["message_id"],
        "kind": "new",
        "product": "Trailhead 35L Hiking Backpack",
        "url": f"/admin/inquiries/{inquiry_id}",
        "preview": "Hello, is this <b>in stock</b>?",
    }
    assert of(pending.until_quiet(), Event.ROW)

    # Answered: it leaves "Waiting for us" (and "Pending": it is in progress now).
    client.post(f"/admin/inquiries/{inquiry_id}/messages", data={"message_text": "Yes"}, headers=hx(token))
    events = stream.until_quiet()
    assert str(inquiry_id) in of(events, Event.REMOVE) and of(events, Event.WAITING)[-1] == "0"
    assert not of(events, Event.CUSTOMER_WROTE)  # the shop's own answer notifies nobody
    assert str(inquiry_id) in of(pending.until_quiet(), Event.REMOVE)

    # Resolved, then the customer follows up: back in the list, a follow-up to notify.
    client.post(f"/admin/inquiries/{inquiry_id}/status", data={"status": "resolved"}, headers=hx(token))
    assert of(stream.until_quiet(), Event.REMOVE)
    pending.until_quiet()
    shopper.says("Thanks!\nOne   more question " + "x" * 200)
    events = stream.until_quiet()
    assert any(f'id="inq-{inquiry_id}"' in html for html in of(events, Event.ROW))
    assert of(events, Event.WAITING)[-1] == "1"
    [wrote] = [json.loads(d) for d in of(events, Event.CUSTOMER_WROTE)]
    assert wrote["kind"] == "followup" and wrote["preview"].startswith("Thanks! One more question xxx")
    assert len(wrote["preview"]) == 120 and wrote["preview"].endswith("…")
    assert any(f'id="inq-{inquiry_id}"' in html for html in of(pending.until_quiet(), Event.ROW))  # reopened
    stream.close()
    pending.close()


def test_streams_of_one_process_render_a_row_once(quick, admin):
    app = quick
    client, token, _ = admin
    streams = [Stream(client, "?status=waiting") for _ in range(3)]
    rendered = []

    def record(sender, template, context, **extra):
        rendered.append(template.name)

    template_rendered.connect(record, app)
    try:
        Customer(app, first_product_id(app)).says("Hi there")
        for stream in streams:
            assert len(of(stream.until_quiet(), Event.ROW)) == 1
    finally:
        template_rendered.disconnect(record, app)
    assert rendered.count("admin/_row.html") == 1
    for stream in streams:
        stream.close()


def controls(events):
    html = of(events, Event.CONTROLS)
    assert len(html) == 1, events
    return {
        name: value
        for name, value in re.findall(r'<select id="control-(\w+)".*?<option value="([^"]*)" selected', html[0], re.S)
    }


def test_controls_reach_every_open_view_whoever_changes_them(quick, admin, runner):
    app = quick
    client, token, ids = admin
    pid = first_product_id(app)
    shopper = Customer(app, pid)
    inquiry_id = shopper.says("Does it fit carry-on?")["inquiry_id"]
    view = Stream(client, f"?inquiry={inquiry_id}")

    # An answer moves it from pending to in progress.
    client.post(f"/admin/inquiries/{inquiry_id}/messages", data={"message_text": "Yes"}, headers=hx(token))
    events = view.until_quiet()
    assert controls(events)["status"] == "in_progress"
    assert not of(events, Event.ROW)  # an inquiry page has no list to fill

    # The panel's own form, another admin (the JSON API with a token), the CLI.
    client.post(f"/admin/inquiries/{inquiry_id}/priority", data={"priority": "high"}, headers=hx(token))
    assert controls(view.until_quiet())["priority"] == "high"
    with app.app_context():
        from chat.services import admin_tokens

        bo_token = admin_tokens.create(db.session.get(User, ids["bo"]), "test")
    api = app.test_client()
    bearer = {"Authorization": f"Bearer {bo_token}"}
    assert (
        api.put(f"/api/admin/inquiries/{inquiry_id}/assignee", json={"admin_id": ids["bo"]}, headers=bearer).status_code
        == 200
    )
    assert controls(view.until_quiet())["assignee"] == str(ids["bo"])
    assert (
        api.put(f"/api/admin/inquiries/{inquiry_id}/status", json={"status": "resolved"}, headers=bearer).status_code
        == 200
    )
    assert controls(view.until_quiet())["status"] == "resolved"

    # The same value again is no change: no event.
    api.put(f"/api/admin/inquiries/{inquiry_id}/status", json={"status": "resolved"}, headers=bearer)
    assert not of(view.until_quiet(), Event.CONTROLS)

    # The customer writes again: reopened, and the controls say so.
    shopper.says("Actually, one more thing")
    assert controls(view.until_quiet())["status"] == "pending"
    # `flask chat reply` answers as the panel does: pending -> in progress.
    result = runner.invoke(args=["chat", "reply", str(inquiry_id), "Sure, ask away."])
    assert result.exit_code == 0, result.output
    assert controls(view.until_quiet())["status"] == "in_progress"
    view.close()


def test_the_controls_are_rendered_for_the_admin_who_sees_them(quick, admin, app):
    client, token, ids = admin
    inquiry_id = Customer(app, first_product_id(app)).says("Hello")["inquiry_id"]
    view = Stream(client, f"?inquiry={inquiry_id}")
    with app.app_context():
        inquiries.assign(inquiry_id, db.session.get(User, ids["bo"]), ids["me"])
    [html] = of(view.until_quiet(), Event.CONTROLS)
    assert "Demo Admin (me)" in html and 'id="control-status"' in html
    view.close()


def test_every_admin_page_has_one_stream_that_carries_the_badge_and_notifications(app, admin):
    client, token, _ = admin
    inquiry_id = Customer(app, first_product_id(app)).says("Hello")["inquiry_id"]
    for path, stream in [
        ("/admin", "/admin/stream?since="),
        (f"/admin/inquiries/{inquiry_id}", f"/admin/stream?inquiry={inquiry_id}"),
        ("/admin/account", "/admin/stream"),
        ("/admin/sites", "/admin/stream"),
    ]:
        page = client.get(path).get_data(as_text=True)
        assert page.count("sse-connect=") == 1, path
        assert f'sse-connect="{stream}' in page.replace("&amp;", "&"), path
        assert f'sse-swap="{Event.WAITING},{Event.CUSTOMER_WROTE}"' in page, path


def test_a_customer_stream_never_hears_customer_wrote(app, demo):
    from chat.live.names import names_for_js

    # The name is defined once and reaches the admin pages only.
    assert names_for_js()["customer_wrote"] == Event.CUSTOMER_WROTE == "customer-wrote"
    page = app.test_client().get("/embed/demo/products/1").get_data(as_text=True)
    assert f'sse-swap="{Event.CUSTOMER_WROTE}' not in page
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(ProductMessage.id))) == 0


def test_a_list_stream_catches_up_on_what_changed_since_its_page_loaded(quick, admin):
    app = quick
    client, token, _ = admin
    pid = first_product_id(app)
    answered = Customer(app, pid).says("First")["inquiry_id"]
    page = client.get("/admin").get_data(as_text=True)
    stream_url = re.search(r'sse-connect="([^"]+)"', page).group(1).replace("&amp;", "&")
    # While the page loads (or the stream is down): a new question, and an answer elsewhere.
    new = Customer(app, pid + 1).says("Second")["inquiry_id"]
    client.post(f"/admin/inquiries/{answered}/messages", data={"message_text": "Done"}, headers=hx(token))

    response = client.get(stream_url, buffered=False)
    text = ""
    for chunk in response.response:
        text += chunk.decode()
        if "event:ready" in text:
            break
    response.close()
    assert f'id="inq-{new}"' in text and f"event:{Event.REMOVE}\ndata:{answered}\n" in text
    assert f"event:{Event.WAITING}\ndata:1\n" in text


def test_the_favicon_is_found_at_both_addresses(client):
    assert client.get("/static/favicon.svg").status_code == 200
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and re.search(
        r"/static/favicon\.[0-9a-f]{12}\.svg$", response.headers["Location"]
    )
    assert client.get(response.headers["Location"]).status_code == 200
