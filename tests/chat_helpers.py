"""Small helpers the chat tests share."""

import re
import uuid

import sqlalchemy as sa

from chat.extensions import db
from chat.models import Product, ProductInquiry, ProductMessage


def first_product_id(app):
    with app.app_context():
        return db.session.scalar(sa.select(Product.id).order_by(Product.id))


def make_product(**fields):
    """A product of the demo site (call inside an app context)."""
    from chat.services import sites

    site = sites.demo_site()
    product = Product(site_id=site.id, external_id=fields.pop("external_id", uuid.uuid4().hex[:12]), **fields)
    db.session.add(product)
    db.session.commit()
    return product


def csrf_token(client, product_id=None):
    """A CSRF token for this client's session, from the login page's form."""
    page = client.get("/admin/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def count(app, model):
    with app.app_context():
        return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def messages_of(app):
    with app.app_context():
        return [m.message_text for m in db.session.scalars(sa.select(ProductMessage).order_by(ProductMessage.id))]


def only_inquiry_id(app):
    with app.app_context():
        return db.session.scalar(sa.select(ProductInquiry.id))


__all__ = ["ProductInquiry", "ProductMessage"]


BO_EMAIL, BO_PASSWORD = "bo@shop.example", "bo-password-1"


def login_form_token(client):
    page = client.get("/admin/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def admin_login(client, email, password, remember=False):
    """Log in through the real form (with its CSRF token); returns the token for later posts."""
    token = login_form_token(client)
    form = {"email": email, "password": password, "csrf_token": token}
    if remember:
        form["remember"] = "1"
    response = client.post("/admin/login", data=form)
    assert response.status_code == 302, response.get_data(as_text=True)
    page = client.get("/admin").get_data(as_text=True)
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)


def make_inquiry(app, product_id, text, session=None):
    """A customer's inquiry made through the service layer; returns its id."""
    from chat.services import conversations

    with app.app_context():
        result = conversations.send_customer_message(product_id, session or uuid.uuid4().hex, text)
        return result.message.inquiry_id


class Shopper:
    """A shopper's browser as the widget's iframe sees the server: the session token
    travels in the X-Chat-Session header (kept from answers), never in a cookie."""

    def __init__(self, app, site="demo"):
        self.client = app.test_client()
        self.site = site
        self.token = ""

    def _keep(self, response):
        token = response.headers.get("X-Chat-Session")
        if token:
            self.token = token
        return response

    def headers(self, **extra):
        return {"X-Chat-Session": self.token, "HX-Request": "true", **extra}

    def url(self, path):
        return f"/embed/{self.site}{path}"

    def get(self, path, **kwargs):
        return self._keep(self.client.get(self.url(path), headers=self.headers(), **kwargs))

    def post(self, path, **kwargs):
        return self._keep(self.client.post(self.url(path), headers=self.headers(), **kwargs))

    def send(self, product, text, client_id=None, **form):
        return self.post(
            f"/products/{product}/messages",
            data={"message_text": text, "client_message_id": client_id or str(uuid.uuid4()), **form},
        )

    def conversation(self, product):
        return self.get(f"/products/{product}/conversation").get_data(as_text=True)


def message_ids(html):
    return [int(i) for i in re.findall(r'id="msg-(\d+)"', html)]


def sign_identity(secret, customer_id, email, timestamp):
    """What a shop's server puts in ``data-customer-signature``, written as the README says
    (not with the app's own code, so a change of the format fails here)."""
    import hashlib
    import hmac
    import json

    message = json.dumps([customer_id, email, int(timestamp)], separators=(",", ":"), ensure_ascii=False)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def module_sqlite_app(folder, **overrides):
    """An app on its own SQLite file in ``folder``, migrated by ``create_all`` and seeded with the
    demo (``app.demo_login``): for a module-scoped fixture that yields it, then ``dispose_app``."""
    import os

    from chat import create_app
    from chat.demo import seed_demo

    from .conftest import _config

    app = create_app(_config(f"sqlite:///{folder / 'chat.sqlite'}", **overrides))
    app.instance_path = str(folder / "instance")
    os.makedirs(app.instance_path, exist_ok=True)
    with app.app_context():
        db.create_all()
        app.demo_login = seed_demo()
    return app


def dispose_app(app):
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


class Statements:
    """The SQL statements the app's engine runs meanwhile (``before_cursor_execute``, as
    bench/send_statements.py counts them); ``before(word, action, table)`` runs ``action``
    once, just before the first statement that starts with ``word`` and names ``table``."""

    def __init__(self, app):
        with app.app_context():
            self.engine = db.engine
        self.seen, self.hooks = [], {}

    def before(self, word, action, table=""):
        self.hooks[word, table] = action

    def _executed(self, conn, cursor, statement, *args):
        self.seen.append(" ".join(statement.split()))
        for word, table in list(self.hooks):
            if statement.lstrip().upper().startswith(word) and table in statement:
                self.hooks.pop((word, table))()

    def __enter__(self):
        sa.event.listen(self.engine, "before_cursor_execute", self._executed)
        return self

    def __exit__(self, *exc):
        sa.event.remove(self.engine, "before_cursor_execute", self._executed)
