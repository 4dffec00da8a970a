"""Sites in the admin panel: create, edit, keys shown once, revoke, rotate, the snippet; escaping."""

import html
import re

import pytest
import sqlalchemy as sa

from chat.extensions import db
from chat.models import Product, Site
from chat.services import sites

from .chat_helpers import admin_login, make_inquiry

EVIL = '<script>alert("x")</script>&'


@pytest.fixture
def admin(app, demo):
    client = app.test_client()
    token = admin_login(client, demo["admin_email"], demo["admin_password"])
    return client, token


def form_token(page):
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def post(client, token, path, **data):
    return client.post(path, data={"csrf_token": token, **data})


def create_site(client, token, name="Shop A", origins="https://a.example"):
    """Create through the form; returns (public id, the page after the redirect)."""
    response = post(client, token, "/admin/sites", name=name, origins=origins)
    assert response.status_code == 303, response.get_data(as_text=True)
    location = response.headers["Location"]
    public_id = location.rstrip("/").rsplit("/", 1)[1]
    return public_id, client.get(location).get_data(as_text=True)


def shown_key(page):
    match = re.search(r'<code id="new-key">([^<]+)</code>', page)
    return match.group(1) if match else None


def api_status(app, key):
    return app.test_client().get("/api/catalog/products", headers={"Authorization": f"Bearer {key}"}).status_code


def site_count(app):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(Site))


def test_sites_pages_need_a_login_and_posts_need_the_csrf_token(app, demo, admin):
    anonymous = app.test_client()
    for path in ["/admin/sites", "/admin/sites/demo"]:
        response = anonymous.get(path)
        assert response.status_code == 302 and "/admin/login" in response.headers["Location"]
    assert anonymous.post("/admin/sites", data={"name": "X", "origins": "https://x.example"}).status_code in (302, 400)
    client, _ = admin
    assert client.post("/admin/sites", data={"name": "X", "origins": "https://x.example"}).status_code == 400
    assert site_count(app) == 1  # the demo site only


def test_create_with_bad_input_shows_errors_next_to_the_fields_and_stores_nothing(app, admin):
    client, token = admin
    response = post(
        client, token, "/admin/sites", name="", origins="ftp://shop.example\nhttps://ok.example\nhttps://a;b"
    )
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert re.search(r'id="site-name-error">Please fill in: Name', page)
    origins_error = re.search(r'id="site-origins-error">([^<]*)<', page).group(1)
    assert "ftp://shop.example" in html.unescape(origins_error) and "https://a;b" in html.unescape(origins_error)
    assert 'aria-invalid="true" aria-describedby="site-origins-error"' in page
    assert "https://ok.example" in page  # what was typed stays in the form
    assert site_count(app) == 1


def test_create_shows_the_key_once_and_the_snippet_names_the_site(app, admin):
    client, token = admin
    app.config["PUBLIC_BASE_URL"] = "https://chat.example"  # who we are: configuration, not the request's host
    public_id, page = create_site(client, token)
    key = shown_key(page)
    assert key and key.startswith("pcs_") and api_status(app, key) == 200
    snippet = html.unescape(re.search(r'<code id="snippet">([^<]+)</code>', page).group(1))
    assert snippet == (
        f'<script src="https://chat.example/widget.js" data-site="{public_id}" '
        f'data-product="THEIR_PRODUCT_ID" async></script>'
    )
    # The live preview: the loader itself, on this page.
    assert f'<script src="https://chat.example/widget.js" data-site="{public_id}" data-product="preview" async>' in page
    assert re.search(r'src="/static/js/copy\.[0-9a-f]{12}\.js"', page) and 'data-copy="#snippet"' in page
    # The sync API examples carry our public address; the key stays in $CHAT_API_KEY.
    assert "curl -X PUT https://chat.example/api/catalog/products/SKU-123" in html.unescape(page)
    assert "localhost" not in page
    assert "$CHAT_API_KEY" in page and page.count(key) == 1
    again = client.get(f"/admin/sites/{public_id}")
    assert again.headers["Cache-Control"] == "no-store"
    assert shown_key(again.get_data(as_text=True)) is None and key not in again.get_data(as_text=True)
    listing = client.get("/admin/sites").get_data(as_text=True)
    assert public_id in listing and "Shop A" in listing and "https://a.example" in listing


def test_edit_name_and_origins(app, admin):
    client, token = admin
    public_id, _ = create_site(client, token)
    bad = post(client, token, f"/admin/sites/{public_id}", name="Shop A", origins="https://a.example/shop")
    assert bad.status_code == 422 and 'id="site-origins-error"' in bad.get_data(as_text=True)
    good = post(
        client,
        token,
        f"/admin/sites/{public_id}",
        name="Shop Alpha",
        origins="https://A.example\nhttps://www.a.example\nhttps://a.example",
    )
    assert good.status_code == 303
    with app.app_context():
        site = sites.get(public_id)
        assert site.name == "Shop Alpha" and site.origins == ["https://a.example", "https://www.a.example"]


def test_new_key_is_shown_once_and_revoking_stops_it(app, admin):
    client, token = admin
    public_id, page = create_site(client, token)
    first = shown_key(page)
    response = post(client, token, f"/admin/sites/{public_id}/keys", name="nightly sync")
    assert response.status_code == 303
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    second = shown_key(page)
    assert second and second != first and api_status(app, second) == 200
    assert "nightly sync" in page and second[:10] in page
    assert shown_key(client.get(f"/admin/sites/{public_id}").get_data(as_text=True)) is None
    with app.app_context():
        key_id = next(k.id for k in sites.keys_of(sites.get(public_id)) if k.name == "nightly sync")
    assert post(client, token, f"/admin/sites/{public_id}/keys/{key_id}/revoke").status_code == 303
    assert api_status(app, second) == 401
    assert api_status(app, first) == 200
    # A key of another site cannot be revoked through this one.
    with app.app_context():
        demo_key_ids = [k.id for k in sites.keys_of(sites.get("demo"))]
    post(client, token, f"/admin/sites/{public_id}/keys/{demo_key_ids[0]}/revoke")
    with app.app_context():
        assert [k.id for k in sites.keys_of(sites.get("demo"))] == demo_key_ids


def test_rotate_needs_the_confirmation_and_changes_the_secret(app, admin):
    client, token = admin
    public_id, page = create_site(client, token)
    with app.app_context():
        before = sites.get(public_id).identity_secret
    assert f'<code id="identity-secret">{before}</code>' in page
    assert "HMAC_SHA256" in page and "data-customer-signature" in page
    post(client, token, f"/admin/sites/{public_id}/identity-secret")
    with app.app_context():
        assert sites.get(public_id).identity_secret == before
    post(client, token, f"/admin/sites/{public_id}/identity-secret", confirm="rotate")
    with app.app_context():
        after = sites.get(public_id).identity_secret
    assert after != before and len(after) == 64
    page = client.get(f"/admin/sites/{public_id}").get_data(as_text=True)
    assert after in page and before not in page


def test_unknown_site_is_404(admin):
    client, token = admin
    assert client.get("/admin/sites/nosuch").status_code == 404
    assert post(client, token, "/admin/sites/nosuch/keys", name="x").status_code == 404


def test_every_user_text_on_the_sites_pages_is_escaped(app, admin):
    client, token = admin
    public_id, page = create_site(client, token, name=EVIL)
    post(client, token, f"/admin/sites/{public_id}/keys", name=EVIL)
    pages = [
        client.get(f"/admin/sites/{public_id}").get_data(as_text=True),
        client.get("/admin/sites").get_data(as_text=True),
        post(client, token, "/admin/sites", name=EVIL, origins=EVIL).get_data(as_text=True),
        post(client, token, f"/admin/sites/{public_id}", name=EVIL, origins="bad<origin>").get_data(as_text=True),
    ]
    for page in pages:
        assert "<script>alert" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;&amp;" in page
    assert "bad&lt;origin&gt;" in pages[3]


def test_inquiries_name_the_site_only_when_there_are_several(app, admin):
    client, token = admin
    with app.app_context():
        demo_product = db.session.scalar(sa.select(Product.id).order_by(Product.id))
    make_inquiry(app, demo_product, "Hello from the demo shop")
    assert 'class="site-name"' not in client.get("/admin").get_data(as_text=True)
    create_site(client, token, name=EVIL)
    listing = client.get("/admin").get_data(as_text=True)
    assert '<span class="site-name">Demo Shop</span>' in listing


def test_a_placeholder_product_says_where_it_was_seen(app, admin):
    client, token = admin
    public_id, _ = create_site(client, token, name=EVIL)
    with app.app_context():
        site = sites.get(public_id)
        product = Product(
            site_id=site.id,
            external_id="P-1",
            name="<b>Mug</b> | Shop",
            page_url='https://a.example/mug?a=1&b="2"',
            synced_at=None,
        )
        db.session.add(product)
        db.session.commit()
        product_id = product.id
    inquiry_id = make_inquiry(app, product_id, "Is it big?")
    page = client.get(f"/admin/inquiries/{inquiry_id}").get_data(as_text=True)
    assert (
        'Seen on <a href="https://a.example/mug?a=1&amp;b=&#34;2&#34;" target="_blank" '
        'rel="noopener noreferrer nofollow">'
    ) in page
    assert "has not synced this product yet" in page
    assert "<b>Mug</b>" not in page and "&lt;b&gt;Mug&lt;/b&gt;" in page
    assert '<p class="site-name">&lt;script&gt;' in page
    listing = client.get("/admin").get_data(as_text=True)
    assert '<span class="site-name">&lt;script&gt;alert' in listing
