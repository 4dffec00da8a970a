"""What the loader (/widget.js) asks our server before it draws anything on a shop's page:
GET /embed/<site>/allowed, for the page's Origin. And both answers are the same for every
shopper: no cookie goes in or out, and caches need not keep one copy per cookie."""

import uuid
from urllib.parse import urlsplit

import pytest

from chat import create_app
from chat.extensions import db
from chat.services import sites

from . import backends
from .conftest import _config
from .tcp_proxy import TCPProxy


@pytest.fixture
def shop(app):
    with app.app_context():
        site, _ = sites.create("Clay & Co", ["https://clay.example", "http://localhost:8000"])
        return site.public_id


def allowed(client, site, origin=None):
    response = client.get(f"/embed/{site}/allowed", headers={"Origin": origin} if origin else {})
    assert response.status_code == 200
    return response


def test_only_the_sites_origins_and_our_own_pages_are_allowed(app, client, shop):
    ours = "http://127.0.0.1:5000"  # PUBLIC_BASE_URL of the tests
    assert app.config["PUBLIC_BASE_URL"] == ours
    answers = {
        origin: allowed(client, shop, origin).get_json()["allowed"]
        for origin in ("https://clay.example", "HTTPS://CLAY.EXAMPLE", "http://localhost:8000", ours, None)
    }
    assert all(answers.values()), answers
    for stranger in (
        "https://evil.example",
        "http://clay.example",
        "https://clay.example:8443",
        "null",
        "http://localhost",
    ):
        assert allowed(client, shop, stranger).get_json() == {"allowed": False}, stranger
    # An unknown site is no different (and still readable: a 404 would be a console error on the page).
    assert allowed(client, "no-such-site", "https://clay.example").get_json() == {"allowed": False}
    assert allowed(client, "x" * 300, "https://clay.example").get_json() == {"allowed": False}


def test_the_answer_is_readable_from_any_page_and_cached_per_origin(client, shop):
    response = allowed(client, shop, "https://evil.example")
    assert response.headers["Access-Control-Allow-Origin"] == "*"  # "no" is readable: no CORS error
    assert "Access-Control-Allow-Credentials" not in response.headers
    # Cached per origin, never per cookie (compression may add Accept-Encoding).
    assert "origin" in response.vary.as_set() and "cookie" not in response.vary.as_set()
    assert response.headers["Cache-Control"] == "public, max-age=60"


def test_the_loader_and_the_answer_carry_no_cookie_even_for_a_logged_in_admin(admin, shop):
    client, _, _ = admin
    for path in ("/widget.js", f"/embed/{shop}/allowed"):
        response = client.get(path, headers={"Accept-Encoding": "gzip", "Origin": "https://clay.example"})
        assert response.status_code == 200
        assert "cookie" not in response.vary.as_set(), path
        assert "Set-Cookie" not in response.headers, path
    assert client.get("/admin").status_code == 200  # the admin is still logged in


@pytest.fixture
def cut_database():
    """An app on MariaDB behind a proxy the test cuts."""
    backends.require("mariadb")
    parts = urlsplit(backends.MYSQL_URL.replace("mysql+pymysql", "mysql"))
    name, url = backends.create_mysql_database()
    with TCPProxy(parts.hostname, parts.port or 3306) as proxy:
        target = urlsplit(url)
        app = create_app(_config(url.replace(target.netloc, f"{target.username}@127.0.0.1:{proxy.port}")))
        with app.app_context():
            db.create_all()
        yield app, proxy
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
    backends.drop_mysql_database(name)


@pytest.mark.mariadb
def test_with_the_database_down_the_answer_is_a_readable_503(cut_database):
    app, proxy = cut_database
    proxy.cut()
    response = app.test_client().get(
        f"/embed/s{uuid.uuid4().hex[:10]}/allowed", headers={"Origin": "https://x.example"}
    )
    assert response.status_code == 503 and response.headers["Retry-After"]
    # Readable by the shop's page: the loader asks again later, and the console stays clean.
    assert response.headers["Access-Control-Allow-Origin"] == "*"
