"""Every response carries the security headers; scripts only from our own origin."""

import re

from .chat_helpers import admin_login, first_product_id, make_inquiry


def _script_src(policy):
    return re.search(r"script-src ([^;]+)", policy).group(1).split()


def test_every_kind_of_response_has_the_headers(app, client, demo):
    pid = first_product_id(app)
    inquiry_id = make_inquiry(app, pid, "hello")
    admin = app.test_client()
    admin_login(admin, demo["admin_email"], demo["admin_password"])
    responses = {
        "page": client.get("/"),
        "product": client.get(f"/products/{pid}"),
        "fragment": client.get(f"/embed/demo/products/{pid}/conversation", headers={"HX-Request": "true"}),
        "loader": client.get("/widget.js"),
        "json": client.get(f"/api/products/{pid}/messages"),
        "json error": client.get("/api/products/999999/messages"),
        "html 404": client.get("/no-such-page"),
        "static": client.get("/static/css/app.css"),
        "admin": admin.get(f"/admin/inquiries/{inquiry_id}"),
        "login": client.get("/admin/login"),
    }
    for name, response in responses.items():
        policy = response.headers.get("Content-Security-Policy", "")
        assert _script_src(policy) == ["'self'"], name
        assert "'unsafe-eval'" not in policy and "frame-ancestors 'self'" in policy, name
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
        assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin", name


def test_no_page_carries_inline_script(app, client, demo):
    pid = first_product_id(app)
    admin = app.test_client()
    admin_login(admin, demo["admin_email"], demo["admin_password"])
    pages = [
        client.get("/"),
        client.get(f"/products/{pid}"),
        client.get("/admin/login"),
        admin.get("/admin"),
        admin.get("/admin/tokens"),
    ]
    for page in pages:
        html = page.get_data(as_text=True)
        # Every <script> has a src; no inline handlers (CSP would block them).
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
        assert not re.search(r"\son[a-z]+=", html)


def test_static_files_are_compressed_and_cached_forever_under_hashed_names(app, client):
    from flask import url_for

    with app.test_request_context():
        htmx = url_for("static", filename="vendor/htmx.min.js")
        css = url_for("static", filename="css/app.css")
    assert re.search(r"/static/vendor/htmx\.min\.[0-9a-f]{12}\.js$", htmx)
    brotli = client.get(htmx, headers={"Accept-Encoding": "br, gzip"})
    gzip = client.get(css, headers={"Accept-Encoding": "gzip"})
    plain = client.get(css)
    assert brotli.headers["Content-Encoding"] == "br" and gzip.headers["Content-Encoding"] == "gzip"
    assert len(brotli.get_data()) < 52_000 / 3  # htmx is 52 KB as written
    for response in (brotli, gzip, plain):
        assert "immutable" in response.headers["Cache-Control"]
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    # A changed file gets a new name; a stale hash is simply not found.
    assert client.get("/static/css/app.000000000000.css").status_code == 404


def test_vendored_files_match_their_lock():
    import hashlib
    import json
    import os

    vendor = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static", "vendor")
    with open(os.path.join(vendor, "vendor.lock.json")) as fh:
        lock = json.load(fh)
    with open(os.path.join(os.path.dirname(vendor), "..", "package.json")) as fh:
        wanted = json.load(fh)["dependencies"]
    assert set(lock) == {"htmx.min.js", "sse.js"}
    for name, entry in lock.items():
        with open(os.path.join(vendor, name), "rb") as fh:
            assert hashlib.sha256(fh.read()).hexdigest() == entry["sha256"], f"{name} differs from its lock"
        assert wanted[entry["package"]] == entry["version"]
