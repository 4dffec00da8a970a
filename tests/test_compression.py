"""Text responses are compressed when the client accepts it, never streams or tiny
bodies, and never where compression would let another site read a secret (BREACH)."""

import gzip

import brotli

from .chat_helpers import Shopper, admin_login, first_product_id, make_inquiry

BROWSER = {"Accept-Encoding": "gzip, deflate, br, zstd"}


def _text(response):
    body = response.get_data()
    encoding = response.headers.get("Content-Encoding")
    if encoding == "br":
        return brotli.decompress(body).decode()
    if encoding == "gzip":
        return gzip.decompress(body).decode()
    assert encoding is None, encoding
    return body.decode()


def test_the_widget_page_its_fragments_and_json_come_compressed(app, client, demo):
    pid = first_product_id(app)
    shopper = Shopper(app)
    shopper.send("1", "Does it come in blue? " * 20)
    # The chat's page, framed by a shop (a cross-site load, no cookies of ours).
    page = client.get("/embed/demo/products/1", headers={**BROWSER, "Sec-Fetch-Site": "cross-site"})
    assert page.status_code == 200 and page.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in page.headers["Vary"]
    assert "<html" in _text(page) and len(page.get_data()) < len(_text(page).encode()) / 2
    # Its HTMX fragment, as the iframe asks for it (its identity is the header).
    fragment = shopper.client.get(
        "/embed/demo/products/1/conversation",
        headers={**shopper.headers(), "Accept-Encoding": "gzip", "Sec-Fetch-Site": "same-origin"},
    )
    assert fragment.headers["Content-Encoding"] == "gzip"
    assert "Does it come in blue?" in _text(fragment) and "<html" not in _text(fragment)
    # JSON for an API caller.
    document = client.get("/api/openapi.json", headers={"Accept-Encoding": "br"})
    assert document.headers["Content-Encoding"] == "br" and '"openapi"' in _text(document)
    assert client.get(f"/products/{pid}", headers=BROWSER).headers["Content-Encoding"] == "br"


def test_a_client_that_does_not_ask_gets_plain_bytes(app, client, demo):
    page = client.get("/embed/demo/products/1")
    assert "Content-Encoding" not in page.headers and "<html" in page.get_data(as_text=True)


def test_an_admin_page_is_compressed_only_for_our_own_pages(app, demo):
    """The page holds the admin's CSRF token and reflects the search text: a request
    another site makes with the admin's cookies must not get a compressed answer,
    whose length would tell that site which guess matched the token."""
    make_inquiry(app, first_product_id(app), "a question")
    admin = app.test_client()
    admin_login(admin, demo["admin_email"], demo["admin_password"])
    url = "/admin/inquiries?status=all&q=csrf-token+content%3D%22a"

    ours = admin.get(url, headers={**BROWSER, "Sec-Fetch-Site": "same-origin"})
    assert ours.status_code == 200 and ours.headers["Content-Encoding"] == "br"
    assert 'name="csrf-token"' in _text(ours)
    typed = admin.get(url, headers={**BROWSER, "Sec-Fetch-Site": "none"})  # the address bar, a bookmark
    assert typed.headers["Content-Encoding"] == "br"

    for fetch_site in ("cross-site", "same-site", None):
        headers = {**BROWSER, **({"Sec-Fetch-Site": fetch_site} if fetch_site else {})}
        theirs = admin.get(url, headers=headers)
        assert theirs.status_code == 200 and "Content-Encoding" not in theirs.headers, fetch_site
        assert 'name="csrf-token"' in _text(theirs)
        assert {"Sec-Fetch-Site", "Accept-Encoding"} <= set(theirs.vary)  # caches keep the two apart


def test_streams_and_tiny_bodies_are_never_compressed(app, demo):
    admin = app.test_client()
    admin_login(admin, demo["admin_email"], demo["admin_password"])
    stream = admin.get("/admin/stream", headers={**BROWSER, "Sec-Fetch-Site": "same-origin"}, buffered=False)
    try:
        assert stream.mimetype == "text/event-stream" and "Content-Encoding" not in stream.headers
        assert next(stream.response).startswith(b"retry:")  # events go out as they are
    finally:
        stream.close()
    shopper = Shopper(app)
    shopper.send("1", "hello")
    unread = shopper.client.get(
        "/embed/demo/unread", headers={**shopper.headers(), **BROWSER, "Sec-Fetch-Site": "same-origin"}
    )
    assert unread.status_code == 200 and len(unread.get_data()) < 500
    assert "Content-Encoding" not in unread.headers
