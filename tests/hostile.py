"""Shared by the hostile-input tests: a small world to aim at, and row counts of every table."""

import json
import re
from dataclasses import dataclass

import sqlalchemy as sa

from chat.extensions import db
from chat.models import User
from chat.services import admin_tokens

from .chat_helpers import admin_login, first_product_id, make_inquiry

UNICODE_DIGIT = "\u00b2"  # "²".isdigit() is True, int("²") raises
PAST_2_63 = "99999999999999999999"
EXACTLY_2_63 = str(2**63)


def table_counts(app):
    """Rows in every table: a rejected request must leave all of them as they were."""
    with app.app_context():
        return {
            table.name: db.session.scalar(sa.select(sa.func.count()).select_from(table))
            for table in db.metadata.sorted_tables
        }


@dataclass
class World:
    product_id: int
    inquiry_id: int
    admin_id: int
    admin: object  # test client logged in as the demo admin
    admin_csrf: str
    bearer: dict
    customer: object  # test client without cookies, holding a header session
    customer_session: dict  # {"X-Chat-Session": token}, owner of inquiry_id
    shopper: object  # the widget's iframe: the same header session, HTMX requests
    site_key: str  # the demo site's catalog API key

    def admin_headers(self, htmx=True):
        headers = {"X-CSRFToken": self.admin_csrf}
        if htmx:
            headers["HX-Request"] = "true"
        return headers

    def shopper_headers(self):
        return {**self.customer_session, "HX-Request": "true"}


def build_world(app, demo):
    pid = first_product_id(app)
    customer = app.test_client(use_cookies=False)
    first = customer.post(
        f"/api/products/{pid}/messages",
        data=json.dumps({"message_text": "first question"}),
        content_type="application/json",
    )
    assert first.status_code == 201, first.get_data(as_text=True)
    session = {"X-Chat-Session": first.headers["X-Chat-Session"]}
    inquiry_id = first.get_json()["inquiry_id"]
    make_inquiry(app, pid, "someone else's question")
    with app.app_context():
        admin = db.session.scalar(sa.select(User))
        token = admin_tokens.create(admin, "hostile tests")
        admin_id = admin.id
        from chat.services import sites

        site_key = sites.add_key(sites.demo_site(), "hostile tests")
    admin_client = app.test_client()
    admin_csrf = admin_login(admin_client, demo["admin_email"], demo["admin_password"])
    return World(
        pid,
        inquiry_id,
        admin_id,
        admin_client,
        admin_csrf,
        {"Authorization": f"Bearer {token}"},
        customer,
        session,
        app.test_client(use_cookies=False),
        site_key,
    )


def id_rules(app):
    """Every route with an ``<id:...>`` (or, before today, ``<int:...>``) path part, with its methods."""
    for rule in app.url_map.iter_rules():
        if re.search(r"<(?:id|int):", rule.rule):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield method, rule.rule


def fill_path(template, value, others=None):
    """``template`` with every id part set to ``value`` (other parts from ``others``, else "x")."""
    others = others or {}

    def one(match):
        converter, name = match.group(1), match.group(2)
        if converter in ("id", "int"):
            return value
        return others.get(name, "x")

    return re.sub(r"<(?:(\w+):)?(\w+)>", one, template)


def names_field(response, name):
    """The error names ``name``: in ``fields`` for JSON, in the text of an HTML fragment or page."""
    if response.is_json:
        return name in (response.get_json().get("fields") or {})
    return name in response.get_data(as_text=True)
