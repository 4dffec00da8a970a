"""The catalog sync API: a shop's products by its own ids, behind a site API key."""

import pytest
import sqlalchemy as sa

from chat.extensions import db
from chat.models import Product, ProductInquiry
from chat.services import sites

from .chat_helpers import make_inquiry

URL = "/api/catalog/products/"
SHIRT = {
    "name": "Linen shirt",
    "price": "49.90",
    "currency": "EUR",
    "stock": 12,
    "description": "Stonewashed linen.",
    "image_url": "https://shop.example/img/shirt.jpg",
    "page_url": "https://shop.example/products/SKU-1",
}


def make_site(app, name="Shop A", origins=("https://a.example",)):
    """A site and its first API key: (public id, auth headers)."""
    with app.app_context():
        site, key = sites.create(name, list(origins))
        return site.public_id, {"Authorization": f"Bearer {key}"}


@pytest.fixture
def shop_a(app):
    return make_site(app)


@pytest.fixture
def shop_b(app):
    return make_site(app, "Shop B", ["https://b.example"])


def product_count(app):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Product))


def test_put_creates_then_replaces_and_the_same_body_twice_changes_nothing(client, shop_a):
    site, auth = shop_a
    created = client.put(URL + "SKU-1", json=SHIRT, headers=auth)
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert created.headers["Location"].endswith("/api/catalog/products/SKU-1")
    assert body["external_id"] == "SKU-1" and body["site"] == site and isinstance(body["id"], int)
    assert body["price"] == "49.90" and body["stock"] == 12 and body["currency"] == "EUR"
    assert body["name"] == "Linen shirt" and body["page_url"] == SHIRT["page_url"]
    for stamp in ("synced_at", "created_at", "updated_at"):
        assert body[stamp].endswith("Z"), stamp

    again = client.put(URL + "SKU-1", json=SHIRT, headers=auth)
    assert again.status_code == 200
    assert again.get_json() == body  # nothing moved, not even updated_at

    # Replace: fields left out go back to their defaults.
    replaced = client.put(URL + "SKU-1", json={"name": "Linen shirt, blue", "price": 45}, headers=auth)
    assert replaced.status_code == 200
    new = replaced.get_json()
    assert new["id"] == body["id"] and new["name"] == "Linen shirt, blue" and new["price"] == "45.00"
    assert new["stock"] is None and new["description"] == "" and new["image_url"] is None
    assert new["updated_at"] >= body["updated_at"] and new["created_at"] == body["created_at"]
    assert client.get(URL + "SKU-1", headers=auth).get_json() == new


def test_prices_numbers_and_strings(client, shop_a):
    _, auth = shop_a
    for sent, stored in [
        (19.99, "19.99"),
        ("0.5", "0.50"),
        (0, "0.00"),
        ("99999999.99", "99999999.99"),
        (None, None),
        (1e2, "100.00"),
        (-0.0, "0.00"),
    ]:
        response = client.put(URL + "P", json={"name": "x", "price": sent}, headers=auth)
        assert response.status_code in (200, 201) and response.get_json()["price"] == stored, sent


def test_get_and_delete(client, shop_a):
    _, auth = shop_a
    assert client.get(URL + "SKU-1", headers=auth).status_code == 404
    client.put(URL + "SKU-1", json=SHIRT, headers=auth)
    assert client.get(URL + "SKU-1", headers=auth).get_json()["name"] == "Linen shirt"
    deleted = client.delete(URL + "SKU-1", headers=auth)
    assert deleted.status_code == 204 and deleted.data == b""
    missing = client.get(URL + "SKU-1", headers=auth)
    assert missing.status_code == 404 and missing.get_json()["fields"] == {"external_id": "no such product"}
    assert client.delete(URL + "SKU-1", headers=auth).status_code == 404


def test_list_pages_by_external_id(client, shop_a, shop_b):
    _, auth = shop_a
    for external_id in ["c-3", "a-1", "e-5", "b-2", "d-4"]:
        assert client.put(URL + external_id, json={"name": external_id}, headers=auth).status_code == 201
    client.put(URL + "a-0", json={"name": "B's"}, headers=shop_b[1])
    seen, after = [], None
    for _ in range(4):
        query = {"limit": 2} | ({"after": after} if after else {})
        page = client.get("/api/catalog/products", query_string=query, headers=auth).get_json()
        seen.append([p["external_id"] for p in page["products"]])
        after = page["next_after"]
        if after is None:
            break
    assert seen == [["a-1", "b-2"], ["c-3", "d-4"], ["e-5"]]
    everything = client.get("/api/catalog/products", headers=auth).get_json()
    assert [p["external_id"] for p in everything["products"]] == ["a-1", "b-2", "c-3", "d-4", "e-5"]
    assert everything["next_after"] is None
    bad = client.get("/api/catalog/products?after=a%20b", headers=auth)
    assert bad.status_code == 400 and "after" in bad.get_json()["fields"]
    assert client.get("/api/catalog/products?limit=ten", headers=auth).status_code == 400


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer nope",
        "Basic dXNlcjpwYXNz",
        "Bearer pcs_" + "x" * 43,
        "Bearer pc_not-a-site-key",
    ],
)
def test_missing_or_bad_keys_are_401_with_a_bearer_challenge(app, client, shop_a, header):
    headers = {"Authorization": header} if header is not None else {}
    for method in ("get", "put", "delete"):
        response = getattr(client, method)(URL + "SKU-1", json=SHIRT, headers=headers)
        assert response.status_code == 401, (method, header)
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "error" in response.get_json()
    assert client.get("/api/catalog/products", headers=headers).status_code == 401
    assert product_count(app) == 0


def test_a_revoked_key_stops_working(app, client, shop_a):
    site, auth = shop_a
    assert client.put(URL + "SKU-1", json=SHIRT, headers=auth).status_code == 201
    with app.app_context():
        row = sites.keys_of(sites.get(site))[0]
        assert row.last_used_at is not None
        sites.revoke_key(sites.get(site), row.id)
    response = client.get(URL + "SKU-1", headers=auth)
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers["WWW-Authenticate"]


BAD_FIELDS = [
    ({}, {"name"}),
    ({"name": ""}, {"name"}),
    ({"name": "   "}, {"name"}),
    ({"name": "x" * 201}, {"name"}),
    ({"name": 5}, {"name"}),
    ({"name": "two\nlines"}, {"name"}),
    ({"name": "x", "price": -1}, {"price"}),
    ({"name": "x", "price": "1.234"}, {"price"}),
    ({"name": "x", "price": 12.345}, {"price"}),
    ({"name": "x", "price": 100000000}, {"price"}),
    ({"name": "x", "price": "1e3"}, {"price"}),
    ({"name": "x", "price": "abc"}, {"price"}),
    ({"name": "x", "price": True}, {"price"}),
    ({"name": "x", "price": [1]}, {"price"}),
    ({"name": "x", "currency": "eur"}, {"currency"}),
    ({"name": "x", "currency": "EURO"}, {"currency"}),
    ({"name": "x", "currency": "XYZ"}, {"currency"}),
    ({"name": "x", "image_url": "ftp://shop.example/a.jpg"}, {"image_url"}),
    ({"name": "x", "image_url": "/img/a.jpg"}, {"image_url"}),
    ({"name": "x", "page_url": "javascript:alert(1)"}, {"page_url"}),
    ({"name": "x", "page_url": "http://[::1"}, {"page_url"}),
    ({"name": "x", "description": "d" * 5001}, {"description"}),
    ({"name": "x", "description": "a\x00b"}, {"description"}),
    ({"name": "x", "stock": -1}, {"stock"}),
    ({"name": "x", "stock": 1.5}, {"stock"}),
    ({"name": "x", "stock": "3"}, {"stock"}),
    ({"name": "x", "stock": True}, {"stock"}),
    ({"name": "x", "colour": "red"}, {"colour"}),
    ({"name": "x", "id": 7, "synced_at": None}, {"id", "synced_at"}),
]


@pytest.mark.parametrize("body,bad", BAD_FIELDS)
def test_each_bad_field_is_a_422_naming_it_and_stores_nothing(app, client, shop_a, body, bad):
    response = client.put(URL + "SKU-1", json=body, headers=shop_a[1])
    assert response.status_code == 422, response.get_json()
    assert set(response.get_json()["fields"]) == bad
    assert product_count(app) == 0


def test_every_bad_field_is_named_at_once_and_a_stored_product_stays(app, client, shop_a):
    _, auth = shop_a
    stored = client.put(URL + "SKU-1", json=SHIRT, headers=auth).get_json()
    response = client.put(
        URL + "SKU-1",
        headers=auth,
        json={
            "name": "",
            "price": "-1",
            "currency": "eur",
            "image_url": "nope",
            "page_url": "ftp://x",
            "description": 3,
            "stock": -2,
            "colour": "red",
            "size": "M",
        },
    )
    assert response.status_code == 422
    body = response.get_json()
    assert set(body["fields"]) == {
        "name",
        "price",
        "currency",
        "image_url",
        "page_url",
        "description",
        "stock",
        "colour",
        "size",
    }
    assert "colour" in body["error"] and "size" in body["error"]
    assert body["fields"]["colour"] == "unknown field"
    assert client.get(URL + "SKU-1", headers=auth).get_json() == stored


def test_bodies_that_are_not_json_objects(client, shop_a):
    _, auth = shop_a
    assert client.put(URL + "SKU-1", data="name=x", headers=auth).status_code == 400
    assert client.put(URL + "SKU-1", data="{", headers=auth, content_type="application/json").status_code == 400
    assert client.put(URL + "SKU-1", json=["name"], headers=auth).status_code == 422


@pytest.mark.parametrize("path", ["x" * 101, "a%20b", "a%2Fb", "a/b", "a%00b", "a%09b", "%FF%FE", "a%0Ab"])
def test_malformed_ids_in_the_path_are_404_naming_the_field(app, client, shop_a, path):
    for method in ("get", "put", "delete"):
        response = getattr(client, method)(URL + path, json={"name": "x"}, headers=shop_a[1])
        assert response.status_code == 404, (method, path)
        assert "external_id" in response.get_json()["fields"]
    assert product_count(app) == 0


def test_unusual_but_valid_ids(client, shop_a):
    _, auth = shop_a
    for external_id, path in [
        ("x" * 100, "x" * 100),
        ("café-№5", "caf%C3%A9-%E2%84%965"),
        ("a?b#c", "a%3Fb%23c"),
        ("100%", "100%25"),
    ]:
        response = client.put(URL + path, json={"name": "x"}, headers=auth)
        assert response.status_code == 201, external_id
        assert response.get_json()["external_id"] == external_id
        assert client.get(URL + path, headers=auth).get_json()["external_id"] == external_id


def test_another_sites_products_cannot_be_seen_or_touched(app, client, shop_a, shop_b):
    _, auth_a = shop_a
    site_b, auth_b = shop_b
    original = client.put(URL + "SKU-1", json=SHIRT, headers=auth_a).get_json()
    assert client.get(URL + "SKU-1", headers=auth_b).status_code == 404
    assert client.delete(URL + "SKU-1", headers=auth_b).status_code == 404
    assert client.get("/api/catalog/products", headers=auth_b).get_json()["products"] == []
    # B's PUT makes B's own product of that id; A's stays as it was.
    own = client.put(URL + "SKU-1", json={"name": "B's shirt"}, headers=auth_b)
    assert own.status_code == 201
    assert own.get_json()["site"] == site_b and own.get_json()["id"] != original["id"]
    assert client.get(URL + "SKU-1", headers=auth_a).get_json() == original
    assert client.delete(URL + "SKU-1", headers=auth_b).status_code == 204
    assert client.get(URL + "SKU-1", headers=auth_a).get_json() == original


def _placeholder(app, site_id, external_id="P-1"):
    with app.app_context():
        site = sites.get(site_id)
        product = Product(
            site_id=site.id,
            external_id=external_id,
            name="Blue mug | My shop",
            page_url="https://a.example/mug",
            synced_at=None,
        )
        db.session.add(product)
        db.session.commit()
        return product.id


def test_put_fills_in_a_placeholder_and_keeps_its_conversation(app, client, shop_a):
    site, auth = shop_a
    product_id = _placeholder(app, site)
    inquiry_id = make_inquiry(app, product_id, "Is the mug dishwasher safe?")
    seen = client.get(URL + "P-1", headers=auth).get_json()
    assert seen["synced_at"] is None and seen["id"] == product_id and seen["price"] is None
    response = client.put(
        URL + "P-1",
        json={"name": "Blue mug", "price": "12.00", "stock": 3, "page_url": "https://a.example/mug"},
        headers=auth,
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["id"] == product_id and body["synced_at"] is not None and body["name"] == "Blue mug"
    with app.app_context():
        inquiry = db.session.get(ProductInquiry, inquiry_id)
        assert inquiry.product_id == product_id and inquiry.messages.count() == 1


def test_delete_is_refused_while_the_product_has_conversations(app, client, shop_a):
    site, auth = shop_a
    product_id = client.put(URL + "SKU-1", json=SHIRT, headers=auth).get_json()["id"]
    inquiry_id = make_inquiry(app, product_id, "Does it shrink?")
    refused = client.delete(URL + "SKU-1", headers=auth)
    assert refused.status_code == 409
    assert "conversations" in refused.get_json()["fields"]
    with app.app_context():
        assert db.session.get(ProductInquiry, inquiry_id) is not None
        db.session.delete(db.session.get(ProductInquiry, inquiry_id))  # as erasing or purging does
        db.session.commit()
    assert client.delete(URL + "SKU-1", headers=auth).status_code == 204
    assert product_count(app) == 0


def test_ids_that_differ_only_in_case_are_two_products(app, client, shop_a):
    """Compared exactly on SQLite and MariaDB (binary collation): "abc" is not "ABC"."""
    _, auth = shop_a
    assert client.put(URL + "abc", json={"name": "lower"}, headers=auth).status_code == 201
    assert client.put(URL + "ABC", json={"name": "upper"}, headers=auth).status_code == 201
    assert client.get(URL + "ABC", headers=auth).get_json()["name"] == "upper"
    assert client.get(URL + "abc", headers=auth).get_json()["name"] == "lower"
