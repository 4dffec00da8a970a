"""Chunked request bodies past MAX_CONTENT_LENGTH, sent to the real server (gunicorn + gevent).

gunicorn hands a chunked body to the app with no CONTENT_LENGTH and
``wsgi.input_terminated``; Werkzeug alone then reads it only up to the limit
and silently drops the rest. The Flask test client does not send chunked
bodies this way, so these go over a socket.
"""

import http.client
import json
import sqlite3

import pytest

from .live_server import LiveServer, prepared_env

LIMIT = 65536  # the default MAX_CONTENT_LENGTH


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    tmp_path = tmp_path_factory.mktemp("chunked")
    env = prepared_env(tmp_path, database_url=f"sqlite:///{tmp_path}/chunked.sqlite")
    with LiveServer(env) as live:
        live.database = f"{tmp_path}/chunked.sqlite"
        yield live


def rows(server):
    with sqlite3.connect(server.database) as conn:
        tables = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {table: conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0] for table in tables}


def request(server, method, path, body=None, headers=None, chunk=8192):
    """One request; a body is sent chunked (Transfer-Encoding: chunked, no Content-Length)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        chunks = None if body is None else (body[i : i + chunk] for i in range(0, len(body), chunk))
        conn.request(method, path, body=chunks, headers=headers or {}, encode_chunked=body is not None)
        response = conn.getresponse()
        return response.status, response.getheaders(), response.read()
    finally:
        conn.close()


def page_session(server):
    """The widget's headers: a shopper with no session yet (the header says so) and HTMX."""
    return {"X-Chat-Session": "", "HX-Request": "true"}


def json_message(text, size):
    """A JSON message of exactly ``size`` bytes (padding in a field the API ignores)."""
    body = json.dumps({"message_text": text, "pad": ""})
    return json.dumps({"message_text": text, "pad": "p" * (size - len(body))}).encode()


def test_chunked_json_within_the_limit_is_stored(server):
    before = rows(server)
    status, _, body = request(
        server,
        "POST",
        "/api/products/1/messages",
        json_message("chunked, fits", LIMIT),
        {"Content-Type": "application/json"},
    )
    assert status == 201 and json.loads(body)["message_text"] == "chunked, fits"
    assert rows(server)["product_messages"] == before["product_messages"] + 1


def test_chunked_json_past_the_limit_is_413_and_stores_nothing(server):
    before = rows(server)
    for size in (LIMIT + 1, 3 * LIMIT):
        status, headers, body = request(
            server,
            "POST",
            "/api/products/1/messages",
            json_message("chunked, too big", size),
            {"Content-Type": "application/json"},
        )
        assert status == 413
        assert dict(headers)["Content-Type"] == "application/json" and "error" in json.loads(body)
    assert rows(server) == before


def test_chunked_form_past_the_limit_is_413_and_stores_nothing(server):
    headers = dict(page_session(server), **{"Content-Type": "application/x-www-form-urlencoded"})
    before = rows(server)
    # The message comes first: a body cut at the limit would still hold a valid one.
    status, _, body = request(
        server, "POST", "/embed/demo/products/1/messages", b"message_text=cut+short&pad=" + b"p" * (2 * LIMIT), headers
    )
    assert status == 413 and b"<html" not in body  # the HTMX error fragment
    assert rows(server) == before
    status, _, body = request(
        server, "POST", "/embed/demo/products/1/messages", b"message_text=fits&pad=" + b"p" * 60000, headers
    )
    assert status == 201 and b"fits" in body
    assert rows(server)["product_messages"] == before["product_messages"] + 1
