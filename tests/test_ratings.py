"""Satisfaction: once the shop marks a question answered, its shopper (only) can rate the answer."""

import sqlalchemy as sa

from chat.extensions import db
from chat.live import current_broker
from chat.live.names import Event, inquiry_channel
from chat.models import Product, ProductInquiry

from .chat_helpers import Shopper, first_product_id


def _asked(app, admin, resolve=True):
    client, token, _ = admin
    pid = first_product_id(app)
    with app.app_context():
        external = db.session.get(Product, pid).external_id
    shopper = Shopper(app)
    shopper.send(external, "Is it waterproof?")
    with app.app_context():
        inquiry_id = db.session.scalar(sa.select(ProductInquiry.id))
    headers = {"X-CSRFToken": token, "HX-Request": "true"}
    client.post(f"/admin/inquiries/{inquiry_id}/messages", data={"message_text": "Yes, 10,000 mm."}, headers=headers)
    if resolve:
        client.post(f"/admin/inquiries/{inquiry_id}/status", data={"status": "resolved"}, headers=headers)
    return shopper, external, pid, inquiry_id


def _rate(shopper, external, **form):
    return shopper.post(f"/products/{external}/rating", data=form)


def test_the_widget_offers_a_rating_under_marked_as_answered(app, admin):
    shopper, external, pid, inquiry_id = _asked(app, admin)
    html = shopper.conversation(external)
    assert "Marked as answered" in html and "Was this answer helpful?" in html
    assert html.index("Marked as answered") < html.index("Was this answer helpful?")
    response = _rate(shopper, external, rating="good", comment="Quick <and> clear")
    assert response.status_code == 200
    assert "You rated this answer <strong>good</strong>" in response.get_data(as_text=True)
    # Rating again replaces it.
    assert _rate(shopper, external, rating="bad", comment="").status_code == 200
    with app.app_context():
        inquiry = db.session.get(ProductInquiry, inquiry_id)
        assert (inquiry.rating, inquiry.rating_comment) == ("bad", None) and inquiry.rated_at is not None
    assert "You rated this answer <strong>not good</strong>" in shopper.conversation(external)


def test_the_admin_sees_the_rating_live_on_the_inquiry_and_in_the_list(app, admin):
    client, token, ids = admin
    shopper, external, pid, inquiry_id = _asked(app, admin)
    page = client.get(f"/admin/inquiries/{inquiry_id}").get_data(as_text=True)
    assert "Customer rating" in page and "Not rated yet." in page
    sub = current_broker(app).subscribe([inquiry_channel(inquiry_id)])
    _rate(shopper, external, rating="good", comment="Quick <and> clear")
    event = sub.get(1)
    current_broker(app).unsubscribe(sub)
    assert event["type"] == Event.CONTROLS
    with app.test_request_context("/admin/stream"):
        from chat.admin.live import AdminStream

        live = AdminStream(ids["bo"], inquiry_id=inquiry_id).handle(event)[0].data
    assert "✓ Good" in live and "Quick &lt;and&gt; clear" in live
    page = client.get(f"/admin/inquiries/{inquiry_id}").get_data(as_text=True)
    assert "✓ Good" in page and "Quick &lt;and&gt; clear" in page
    listed = client.get("/admin?status=resolved").get_data(as_text=True)
    assert "rated good" in listed


def test_only_a_resolved_inquiry_can_be_rated(app, admin):
    shopper, external, pid, inquiry_id = _asked(app, admin, resolve=False)
    assert "Was this answer helpful?" not in shopper.conversation(external)
    api = app.test_client().post(
        f"/api/products/{pid}/rating", json={"rating": "good"}, headers={"X-Chat-Session": shopper.token}
    )
    assert api.status_code == 409 and api.get_json()["fields"] == {"status": "not resolved"}
    # Resolved, then the shopper writes again: open again, no rating (the widget says so).
    client, token, _ = admin
    client.post(
        f"/admin/inquiries/{inquiry_id}/status",
        data={"status": "resolved"},
        headers={"X-CSRFToken": token, "HX-Request": "true"},
    )
    shopper.send(external, "One more thing")
    html = _rate(shopper, external, rating="good").get_data(as_text=True)
    assert "once the shop has marked your question answered" in html
    assert "Was this answer helpful?" not in shopper.conversation(external)
    with app.app_context():
        assert db.session.get(ProductInquiry, inquiry_id).rating is None


def test_customer_api_rating_is_for_the_callers_own_inquiry(app, admin):
    shopper, external, pid, inquiry_id = _asked(app, admin)
    api = app.test_client()
    ok = api.post(
        f"/api/products/{pid}/rating",
        json={"rating": "bad", "comment": "Too slow"},
        headers={"X-Chat-Session": shopper.token},
    )
    assert ok.status_code == 200
    assert ok.get_json()["rating"] == "bad" and ok.get_json()["comment"] == "Too slow"
    bad = api.post(f"/api/products/{pid}/rating", json={"rating": "meh"}, headers={"X-Chat-Session": shopper.token})
    assert bad.status_code == 422 and bad.get_json()["fields"] == {"rating": "good or bad"}
    # Another shopper has no conversation here: nothing to rate, and the first rating stands.
    stranger = Shopper(app)
    stranger.send(external, "hello")  # a session of their own (its own inquiry, not resolved)
    other = api.post(f"/api/products/{pid}/rating", json={"rating": "good"}, headers={"X-Chat-Session": stranger.token})
    assert other.status_code == 409
    nobody = api.post(f"/api/products/{pid}/rating", json={"rating": "good"})
    assert nobody.status_code == 404
    widget = _rate(stranger, external, rating="good")
    assert "once the shop has marked your question answered" in widget.get_data(as_text=True)
    with app.app_context():
        assert db.session.get(ProductInquiry, inquiry_id).rating == "bad"


def test_the_admin_api_shows_the_rating(app, admin):
    client, token, _ = admin
    shopper, external, pid, inquiry_id = _asked(app, admin)
    assert client.get(f"/api/admin/inquiries/{inquiry_id}").get_json()["inquiry"]["rating"] is None
    _rate(shopper, external, rating="bad", comment="Answer came late")
    rating = client.get(f"/api/admin/inquiries/{inquiry_id}").get_json()["inquiry"]["rating"]
    assert rating["rating"] == "bad" and rating["comment"] == "Answer came late" and rating["rated_at"].endswith("Z")
    listed = client.get("/api/admin/inquiries?status=resolved").get_json()["inquiries"]
    assert [i["rating"]["rating"] for i in listed] == ["bad"]
