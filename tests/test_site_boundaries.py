"""One installation, many shops: what one site says or holds never counts on another."""

import time

import sqlalchemy as sa

from chat.extensions import db
from chat.models import ProductInquiry
from chat.services import conversations, sites

from .chat_helpers import Shopper, sign_identity


def _two_sites(app):
    with app.app_context():
        clay = sites.create("Clay & Co", ["https://clay.example"])[0]
        wool = sites.create("Wool & Co", ["https://wool.example"])[0]
        return (clay.public_id, clay.identity_secret), (wool.public_id, wool.identity_secret)


def _identify(shopper, site, secret, customer_id="c-1", email="kim@example.com"):
    stamp = str(int(time.time()))
    body = {
        "customer_id": customer_id,
        "email": email,
        "timestamp": stamp,
        "signature": sign_identity(secret, customer_id, email, stamp),
    }
    return shopper._keep(
        shopper.client.post(f"/embed/{site}/identify", json=body, headers={"X-Chat-Session": shopper.token})
    )


def test_one_sites_identity_secret_signs_nothing_on_another(app, demo):
    (clay, clay_secret), (wool, _) = _two_sites(app)
    shopper = Shopper(app, site=wool)
    refused = _identify(shopper, wool, clay_secret)
    assert refused.status_code == 403 and "X-Chat-Session" not in refused.headers
    assert _identify(Shopper(app, site=clay), clay, clay_secret).status_code == 200


def test_the_same_customer_id_on_two_sites_is_two_customers(app, demo):
    (clay, clay_secret), (wool, wool_secret) = _two_sites(app)
    at_clay = Shopper(app, site=clay)
    assert _identify(at_clay, clay, clay_secret).status_code == 200
    at_clay.send("vase-1", "clay question")
    at_wool = Shopper(app, site=wool)
    assert _identify(at_wool, wool, wool_secret).status_code == 200  # the wool shop's own customer "c-1"
    at_wool.send("vase-1", "wool question")
    assert "clay question" not in at_wool.conversation("vase-1")
    assert "clay question" not in at_wool.get("/conversations").get_data(as_text=True)
    assert "wool question" not in at_clay.conversation("vase-1")


def test_a_session_sees_on_each_site_only_that_sites_conversations_and_unread_answers(app, demo):
    (clay, _), (wool, _) = _two_sites(app)
    shopper = Shopper(app, site=clay)
    shopper.send("jug-1", "about the clay jug")
    with app.app_context():
        inquiry_id = db.session.scalar(sa.select(ProductInquiry.id))
        conversations.add_admin_message(inquiry_id, "Yes, dishwasher safe.")
    assert shopper.get("/unread").get_json() == {"unread": 1}
    # The same token on another site's chat: nothing of the first site's shows or counts there.
    shopper.site = wool
    assert shopper.get("/unread").get_json() == {"unread": 0}
    assert "clay jug" not in shopper.get("/conversations").get_data(as_text=True)
    assert "dishwasher" not in shopper.conversation("jug-1")
