"""Canned replies: the admin page and JSON API (CRUD, unique shortcuts), and filling for an inquiry."""

import re

import sqlalchemy as sa

from chat.extensions import db
from chat.models import CannedReply, Product

from .chat_helpers import count, first_product_id, make_inquiry, make_product

SHIP = {
    "title": "Shipping time",
    "shortcut": "ship",
    "text": "Hi {customer_first_name}, the {product} ({price}) ships in 2 days from {shop}. {tracking} soon.",
}


def _api(admin, method, path, **kwargs):
    client, token, _ = admin
    return getattr(client, method)(f"/api/admin/canned-replies{path}", headers={"X-CSRFToken": token}, **kwargs)


def test_json_crud(app, admin):
    created = _api(admin, "post", "", json=SHIP)
    assert created.status_code == 201, created.get_json()
    reply = created.get_json()
    assert reply["shortcut"] == "ship" and reply["text"] == SHIP["text"]
    listed = _api(admin, "get", "").get_json()["canned_replies"]
    assert [r["id"] for r in listed] == [reply["id"]]
    changed = _api(admin, "put", f"/{reply['id']}", json=dict(SHIP, shortcut="/Shipping", title="Delivery"))
    assert changed.status_code == 200 and changed.get_json()["shortcut"] == "shipping"
    assert changed.get_json()["title"] == "Delivery"
    assert _api(admin, "delete", f"/{reply['id']}").status_code == 204
    assert _api(admin, "get", "").get_json()["canned_replies"] == []
    assert _api(admin, "delete", f"/{reply['id']}").status_code == 404
    assert _api(admin, "put", f"/{reply['id']}", json=SHIP).status_code == 404
    # Without an admin behind it: 401.
    assert app.test_client().get("/api/admin/canned-replies").status_code == 401


def test_bad_fields_and_taken_shortcuts_are_422_and_store_nothing(app, admin):
    assert _api(admin, "post", "", json=SHIP).status_code == 201
    taken = _api(admin, "post", "", json=dict(SHIP, shortcut="SHIP", title="Other"))
    assert taken.status_code == 422 and taken.get_json()["fields"] == {"shortcut": "already used"}
    bad = _api(admin, "post", "", json={"title": "", "shortcut": "two words", "text": 5})
    assert bad.status_code == 422
    assert set(bad.get_json()["fields"]) == {"title", "shortcut", "text"}
    assert count(app, CannedReply) == 1
    other = _api(admin, "post", "", json=dict(SHIP, shortcut="returns")).get_json()
    # Renaming onto a taken shortcut: refused, the reply keeps its own.
    clash = _api(admin, "put", f"/{other['id']}", json=dict(SHIP, shortcut="ship"))
    assert clash.status_code == 422 and clash.get_json()["fields"] == {"shortcut": "already used"}
    with app.app_context():
        assert db.session.get(CannedReply, other["id"]).shortcut == "returns"


def test_the_admin_page_creates_edits_and_deletes(app, admin):
    client, token, _ = admin
    page = client.get("/admin/canned")
    assert page.status_code == 200 and "No canned replies yet." in page.get_data(as_text=True)
    assert 'href="/admin/canned"' in client.get("/admin").get_data(as_text=True)  # in the nav
    created = client.post("/admin/canned", data=dict(SHIP, csrf_token=token))
    assert created.status_code == 303 and created.headers["Location"].endswith("/admin/canned")
    html = client.get("/admin/canned").get_data(as_text=True)
    assert "/ship" in html and "Shipping time" in html
    with app.app_context():
        reply_id = db.session.scalar(sa.select(CannedReply.id))
    # A taken shortcut: the page again, with the message and what was typed.
    again = client.post("/admin/canned", data=dict(SHIP, title="Second <b>", csrf_token=token))
    text = again.get_data(as_text=True)
    assert again.status_code == 422 and "is used already" in text and "Second &lt;b&gt;" in text
    edited = client.post(f"/admin/canned/{reply_id}", data=dict(SHIP, title="Delivery time", csrf_token=token))
    assert edited.status_code == 303 and "Delivery time" in client.get("/admin/canned").get_data(as_text=True)
    # No CSRF token: refused, nothing deleted.
    assert client.post(f"/admin/canned/{reply_id}/delete").status_code == 400
    assert client.post(f"/admin/canned/{reply_id}/delete", data={"csrf_token": token}).status_code == 303
    assert count(app, CannedReply) == 0


def test_suggestions_are_filled_for_the_inquiry(app, admin):
    client, token, _ = admin
    _api(admin, "post", "", json=SHIP)
    _api(admin, "post", "", json={"title": "Ship abroad", "shortcut": "shipabroad", "text": "We ship to the EU."})
    _api(admin, "post", "", json={"title": "Returns", "shortcut": "returns", "text": "30 days to return."})
    with app.app_context():
        product = make_product(name="Rain <Jacket>", price=89.5, currency="EUR")
        pid = product.id
    inquiry_id = make_inquiry(app, pid, "when does it ship?")
    html = client.get(f"/admin/inquiries/{inquiry_id}/canned?q=ship").get_data(as_text=True)
    options = re.findall(r'data-text="([^"]*)"', html)
    assert len(options) == 2 and "/returns" not in html
    assert options[0] == (
        "Hi there, the Rain &lt;Jacket&gt; (89.50 EUR) ships in 2 days from Demo Shop. {tracking} soon."
    )  # escaped in the attribute; unknown placeholders stay as typed
    # A product without a known price says so instead of a number.
    with app.app_context():
        db.session.get(Product, pid).price = None
        db.session.commit()
    html = client.get(f"/admin/inquiries/{inquiry_id}/canned?q=sh").get_data(as_text=True)
    assert "the price shown on the product page" in html
    nothing = client.get(f"/admin/inquiries/{inquiry_id}/canned?q=zzz").get_data(as_text=True)
    assert "No canned reply matches" in nothing
    assert client.get("/admin/inquiries/999999/canned?q=s").status_code == 404


def test_a_title_word_also_finds_a_reply(app, admin):
    client, _, _ = admin
    _api(admin, "post", "", json={"title": "Warranty terms", "shortcut": "wt", "text": "Two years."})
    inquiry_id = make_inquiry(app, first_product_id(app), "warranty?")
    html = client.get(f"/admin/inquiries/{inquiry_id}/canned?q=warr").get_data(as_text=True)
    assert 'data-text="Two years."' in html


def test_the_canned_pages_need_an_admin(app, demo):
    inquiry_id = make_inquiry(app, first_product_id(app), "hi")
    anonymous = app.test_client()
    for path in ("/admin/canned", f"/admin/inquiries/{inquiry_id}/canned?q=s"):
        response = anonymous.get(path)
        assert response.status_code in (302, 401) and "/admin/login" in response.headers.get("Location", "/admin/login")
    assert anonymous.post("/admin/canned", data=SHIP).status_code in (400, 302, 401)
    assert count(app, CannedReply) == 0
