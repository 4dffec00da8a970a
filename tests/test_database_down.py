"""While MariaDB is unreachable every request gets a clear 503 (never a traceback),
nothing is half-written, and the app recovers by itself when it is back.

The app talks to the shared MariaDB through a TCP proxy of the test's own,
which the test cuts (every connection closed, new ones refused) and restores.
"""

import time
import uuid
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from chat import create_app
from chat.extensions import db
from chat.models import ProductInquiry, ProductMessage

from . import backends
from .chat_helpers import Shopper, admin_login
from .conftest import _config
from .tcp_proxy import TCPProxy

pytestmark = pytest.mark.mariadb


@pytest.fixture
def proxy():
    backends.require("mariadb")
    parts = urlsplit(backends.MYSQL_URL.replace("mysql+pymysql", "mysql"))
    with TCPProxy(parts.hostname, parts.port or 3306) as proxy:
        yield proxy


@pytest.fixture
def app(proxy):
    name, url = backends.create_mysql_database()
    parts = urlsplit(url)
    through_proxy = url.replace(parts.netloc, f"{parts.username}@127.0.0.1:{proxy.port}")
    # Rate limits on: their keys and exemptions read the database too.
    app = create_app(_config(through_proxy, RATELIMIT_ENABLED=True, RATELIMIT_STORAGE_URI="memory://"))
    with app.app_context():
        db.create_all()
        from chat.demo import seed_demo

        app.demo_password = seed_demo()[1]
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    backends.drop_mysql_database(name)


def _counts(app):
    with app.app_context():
        db.session.remove()
        inquiries = db.session.scalar(sa.select(sa.func.count()).select_from(ProductInquiry))
        messages = db.session.scalar(sa.select(sa.func.count()).select_from(ProductMessage))
        empty = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(ProductInquiry)
            .where(~sa.exists().where(ProductMessage.inquiry_id == ProductInquiry.id))
        )
        return inquiries, messages, empty


def _api_send(client, text, client_id, token=None):
    headers = {"X-Chat-Session": token} if token else {}
    return client.post(
        "/api/products/1/messages", headers=headers, json={"message_text": text, "client_message_id": client_id}
    )


def _once_back(request, seconds=5):
    """The first answer that is not a 503, retrying as a client told Retry-After would (sooner)."""
    deadline = time.monotonic() + seconds
    while True:
        response = request()
        if response.status_code != 503 or time.monotonic() > deadline:
            return response
        time.sleep(0.2)


def _assert_503(response, kind):
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    text = response.get_data(as_text=True)
    assert "Traceback" not in text
    if kind == "json":
        assert "database" in response.get_json()["error"]
    elif kind == "fragment":
        assert text.startswith('<p class="form-error" role="alert">') and "<html" not in text
        assert "can&#39;t reach our database" in text or "can't reach our database" in text
    else:
        assert "<html" in text and "503" in text and "reach our database" in text


def test_an_outage_answers_503_in_every_shape_and_the_app_recovers(app, proxy):
    client = app.test_client()
    admin = app.test_client()
    admin_login(admin, "admin@example.com", app.demo_password)
    shopper = Shopper(app)
    assert shopper.send("1", "before the outage").status_code == 201
    assert _counts(app) == (1, 1, 0)

    proxy.cut()

    new_id = str(uuid.uuid4())
    refused = _api_send(client, "a new conversation", new_id)
    _assert_503(refused, "json")
    # The session the refused send would have opened: its retry comes from the same shopper.
    token = refused.headers["X-Chat-Session"]
    # A caller with a session (its token cannot be checked now), from a shop's page too (CORS).
    _assert_503(_api_send(client, "from a known shopper", str(uuid.uuid4()), token=shopper.token), "json")
    _assert_503(
        client.post(
            "/api/products/1/messages",
            json={"message_text": "x"},
            headers={"X-Chat-Session": shopper.token, "Origin": "https://shop.example"},
        ),
        "json",
    )
    _assert_503(shopper.send("1", "through the widget"), "fragment")  # the widget's HTMX post
    browser = app.test_client()
    _assert_503(browser.get("/embed/demo/products/1"), "page")  # the widget's page
    _assert_503(browser.get("/products/2"), "page")  # the shop's page
    _assert_503(admin.get("/admin"), "page")
    _assert_503(admin.get("/admin/inquiries?status=all", headers={"HX-Request": "true"}), "fragment")

    proxy.restore()

    # The same client needs nothing from us: within a second the breaker lets a trial
    # through, and the pool finds its dead connections and replaces them.
    retried = _once_back(lambda: _api_send(client, "a new conversation", new_id, token=token))
    assert retried.status_code == 201, retried.get_data(as_text=True)
    again = _api_send(client, "a new conversation", new_id, token=retried.headers["X-Chat-Session"])
    assert again.status_code == 200 and again.get_json()["id"] == retried.get_json()["id"]
    assert shopper.send("1", "through the widget").status_code == 201
    assert admin.get("/admin").status_code == 200
    # Nothing half-written: the refused first message left no conversation behind.
    assert _counts(app) == (2, 3, 0)


def test_a_cut_between_requests_is_not_seen_once_the_database_is_back(app, proxy):
    """Pooled connections killed while idle are checked (pre-ping) and replaced, not handed out."""
    client = app.test_client()
    first = _api_send(client, "one", str(uuid.uuid4()))
    assert first.status_code == 201
    proxy.cut()
    proxy.restore()
    token = first.headers["X-Chat-Session"]
    assert _api_send(client, "two", str(uuid.uuid4()), token).status_code == 201
    assert client.get("/api/products/1/messages", headers={"X-Chat-Session": token}).status_code == 200


def test_a_connection_lost_as_the_request_ends_still_answers_the_stored_message(app, monkeypatch):
    """The database goes away after the commit, while the session is closed: the shopper
    still gets the answer for the message that is stored (it was a bare 500)."""
    from sqlalchemy.exc import OperationalError
    from sqlalchemy.orm import Session

    close = Session.close
    lost = []

    def close_on_a_dead_connection(session):
        if not lost:
            lost.append(True)
            close(session)
            raise OperationalError("ROLLBACK", None, ConnectionResetError("Lost connection to MySQL server"))
        return close(session)

    client = app.test_client()
    monkeypatch.setattr(Session, "close", close_on_a_dead_connection)
    sent = _api_send(client, "stored before the connection died", str(uuid.uuid4()))
    assert lost and sent.status_code == 201
    monkeypatch.setattr(Session, "close", close)
    assert _counts(app) == (1, 1, 0)


def test_a_database_that_hangs_answers_503_instead_of_holding_the_request(app, proxy, monkeypatch):
    """The server takes connections but answers nothing (hung, or a network that drops
    packets): the web server's read timeout (gunicorn.conf.py) turns the wait into a 503."""
    monkeypatch.setenv("DATABASE_QUERY_TIMEOUT_SECONDS", "1")
    monkeypatch.setenv("DATABASE_TIMEOUT_SECONDS", "1")
    web = create_app(_config(app.config["SQLALCHEMY_DATABASE_URI"]))  # the schema is there already
    client = web.test_client()
    first = _api_send(client, "before it hangs", str(uuid.uuid4()))
    assert first.status_code == 201
    token, retried_id = first.headers["X-Chat-Session"], str(uuid.uuid4())
    proxy.freeze()
    try:
        _assert_503(_api_send(client, "while it hangs", retried_id, token), "json")
    finally:
        proxy.thaw()
    assert _once_back(lambda: _api_send(client, "while it hangs", retried_id, token)).status_code == 201
    with web.app_context():
        db.engine.dispose()
    assert _counts(app) == (1, 2, 0)
