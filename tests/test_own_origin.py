"""Who we are comes from configuration: PUBLIC_BASE_URL and each site's listed origins, never
the request's Host or X-Forwarded-* headers (those only through TRUSTED_PROXY_COUNT, and then
only the client's address and scheme)."""

import html
import json
import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from chat.extensions import db
from chat.models import OutboxEmail, Product, ProductInquiry, utcnow
from chat.services import conversations, notifications, sites

from .chat_helpers import Shopper, first_product_id, login_form_token
from .smtp_helpers import Inbox

PUBLIC = "https://chat.example"


@pytest.fixture
def inbox(app):
    box = Inbox()
    box.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=box.port, PUBLIC_BASE_URL=PUBLIC)
    yield box
    box.stop()


def _site(app, kind):
    if kind == "demo":
        return "demo"
    with app.app_context():
        return sites.create("Clay & Co", ["https://clay.example"])[0].public_id


def _answer_mail(app, inbox, to):
    """The shop answers every waiting inquiry; the customer leaves it unread; the worker writes and sends."""
    from chat.mail import deliver_due

    with app.app_context():
        for inquiry_id in db.session.scalars(sa.select(ProductInquiry.id)).all():
            conversations.add_admin_message(inquiry_id, "Yes, it ships tomorrow.")
        db.session.execute(sa.delete(OutboxEmail))
        db.session.commit()
        later = utcnow() + timedelta(minutes=app.config["NOTIFY_CUSTOMER_UNREAD_MINUTES"] + 1)
        notifications.scan(now=later)
        deliver_due()
    mails = [message for rcpt, message in inbox.mails if rcpt == [to]]
    assert len(mails) == 1
    return mails[0].get_body(("plain",)).get_content()


@pytest.mark.parametrize("kind", ["demo", "other site"])
def test_a_forged_host_never_puts_the_attackers_page_in_the_answer_mail(app, demo, admin, inbox, kind):
    """The issue's attack: a forged Host makes the attacker's page the placeholder's page_url, so the
    victim's answer mail linked there, resume token and all, and the attacker read the conversation."""
    site = _site(app, kind)
    attacker = Shopper(app, site=site)
    forged = attacker.client.post(
        f"/embed/{site}/products/NEW-1/messages",
        data={"message_text": "first!", "page_title": "New thing", "page_url": "http://evil.test/steal"},
        headers={"Host": "evil.test", "X-Forwarded-Host": "evil.test", "X-Chat-Session": "", "HX-Request": "true"},
    )
    assert forged.status_code == 201
    victim = Shopper(app, site=site)
    assert victim.send("NEW-1", "Does it come in blue?").status_code == 201
    saved = victim.post("/email", data={"customer_email": "victim@example.com", "email_consent": "yes"})
    assert saved.status_code == 200
    text = _answer_mail(app, inbox, "victim@example.com")
    link = re.search(r"(\S+)#productchat-resume=(\S+)", text)
    assert "evil.test" not in text and link.group(1).startswith(PUBLIC + "/")
    # The admin's inquiry page does not send them there either.
    client, _, _ = admin
    with app.app_context():
        product = db.session.scalar(sa.select(Product).filter_by(external_id="NEW-1"))
        assert product.page_url is None  # not one of the site's origins
        inquiry_id = db.session.scalar(sa.select(ProductInquiry.id).where(ProductInquiry.product_id == product.id))
    page = client.get(f"/admin/inquiries/{inquiry_id}").get_data(as_text=True)
    assert "evil.test" not in page
    # The link works for the one it was mailed to.
    fresh = Shopper(app, site=site)
    fresh._keep(
        fresh.client.post(f"/embed/{site}/resume", json={"token": link.group(2)}, headers={"X-Chat-Session": ""})
    )
    assert "Does it come in blue?" in fresh.conversation("NEW-1")


def test_a_mail_link_checks_the_sites_origins_when_the_mail_is_written(app, demo, inbox):
    with app.app_context():
        site = sites.create("Clay & Co", ["https://clay.example"])[0]
        public_id = site.public_id
    shopper = Shopper(app, site=public_id)
    shopper.send("vase-1", "Is it glazed inside?", page_title="Vase", page_url="https://clay.example/vases/1#top")
    shopper.post("/email", data={"customer_email": "cy@example.com", "email_consent": "yes"})
    with app.app_context():
        assert (
            db.session.scalar(sa.select(Product.page_url).filter_by(external_id="vase-1"))
            == "https://clay.example/vases/1#top"
        )
        # The shop moves: its old address is no longer one of its origins.
        sites.update(sites.get(public_id), "Clay & Co", ["https://clay.shop"])
    text = _answer_mail(app, inbox, "cy@example.com")
    assert "clay.example" not in text
    assert f"{PUBLIC}/embed/{public_id}/products/vase-1#productchat-resume=" in text


@pytest.mark.parametrize("app_config", [{"PUBLIC_BASE_URL": PUBLIC, "TRUSTED_PROXY_COUNT": 1}])
def test_our_address_never_comes_from_host_headers_even_behind_a_trusted_proxy(app, demo):
    forged = {
        "Host": "evil.test",
        "X-Forwarded-Host": "evil.test",
        "X-Forwarded-Proto": "https",
        "X-Forwarded-Port": "8443",
        "X-Forwarded-Prefix": "/evil",
    }
    page = app.test_client().get("/embed/demo/products/1", headers=forged).get_data(as_text=True)
    parents = json.loads(html.unescape(re.search(r'data-parent-origins="([^"]+)"', page).group(1)))
    assert parents == [PUBLIC]  # the demo shop's pages are ours: at our configured address only
    shopper = Shopper(app)
    shopper.client.post(
        "/embed/demo/products/fresh-1/messages",
        data={"message_text": "hi", "page_url": "https://evil.test/products/fresh-1"},
        headers={**forged, "X-Chat-Session": ""},
    )
    shopper.send("fresh-2", "hi", page_url=f"{PUBLIC}/products/fresh-2")
    with app.app_context():
        urls = dict(db.session.execute(sa.select(Product.external_id, Product.page_url)).all())
    assert urls["fresh-1"] is None and urls["fresh-2"] == f"{PUBLIC}/products/fresh-2"


def test_a_page_url_on_our_own_origin_counts_only_for_the_demo_shop(app, demo):
    """A shop's placeholder cannot claim one of our pages (ours are the demo shop's)."""
    app.config["PUBLIC_BASE_URL"] = PUBLIC
    with app.app_context():
        other = sites.create("Clay & Co", ["https://clay.example"])[0].public_id
    # Even when the request does come to our public address.
    sent = app.test_client().post(
        f"/embed/{other}/products/jug-1/messages",
        data={"message_text": "hi", "page_url": f"{PUBLIC}/products/1"},
        headers={"X-Chat-Session": ""},
        base_url=PUBLIC,
    )
    assert sent.status_code == 201
    with app.app_context():
        assert db.session.scalar(sa.select(Product.page_url).filter_by(external_id="jug-1")) is None


LIMITED = {
    "RATELIMIT_ENABLED": True,
    "RATELIMIT_STORAGE_URI": "memory://",
    "CHAT_NEW_SESSIONS_PER_IP": "2/minute",
    "CHAT_NEW_INQUIRIES_PER_IP": "50/minute",
    "LOGIN_FAILURES_PER_IP": "2/15 minutes",
}


def _new_sessions(app, forwarded_for):
    statuses = []
    for address in forwarded_for:
        response = app.test_client().post(
            "/embed/demo/products/1/messages",
            data={"message_text": "hi"},
            headers={"X-Chat-Session": "", "X-Forwarded-For": address},
        )
        statuses.append(response.status_code)
    return statuses


@pytest.mark.parametrize("app_config", [LIMITED])
def test_x_forwarded_for_is_ignored_unless_proxies_are_trusted(app, demo):
    # No trusted proxy: every request is the peer's address, whatever it claims.
    assert _new_sessions(app, ["10.0.0.1", "10.0.0.2", "10.0.0.3"]) == [201, 201, 429]


@pytest.mark.parametrize("app_config", [{**LIMITED, "TRUSTED_PROXY_COUNT": 1}])
def test_a_trusted_proxy_count_takes_the_client_address_from_the_proxys_entry(app, demo):
    assert _new_sessions(app, ["10.0.0.1", "10.0.0.2"]) == [201, 201]
    # A client's own X-Forwarded-For entries come before the proxy's: only the last one counts.
    assert _new_sessions(app, ["6.6.6.1, 10.0.0.3", "6.6.6.2, 10.0.0.3", "6.6.6.3, 10.0.0.3"]) == [201, 201, 429]


@pytest.mark.parametrize("app_config", [LIMITED])
def test_a_forged_x_forwarded_for_does_not_buy_more_password_guesses(app, demo):
    client = app.test_client()
    statuses = []
    for i in range(3):
        form = {"email": f"user{i}@example.com", "password": "guess", "csrf_token": login_form_token(client)}
        response = client.post("/admin/login", data=form, headers={"X-Forwarded-For": f"10.9.9.{i}"})
        statuses.append(response.status_code)
    assert statuses == [401, 401, 429]


@pytest.mark.parametrize("app_config, status", [({"TRUSTED_PROXY_COUNT": 0}, 302), ({"TRUSTED_PROXY_COUNT": 1}, 400)])
def test_x_forwarded_proto_is_believed_only_from_a_trusted_proxy(app, demo, status):
    """Seen as HTTPS (through a trusted proxy), a login post needs a same-site Referer (Flask-WTF's
    strict check); a client's own X-Forwarded-Proto changes nothing."""
    client = app.test_client()
    form = {"email": demo["admin_email"], "password": demo["admin_password"], "csrf_token": login_form_token(client)}
    response = client.post("/admin/login", data=form, headers={"X-Forwarded-Proto": "https"})
    assert response.status_code == status


def test_admin_mail_links_use_our_public_address(app, demo, inbox):
    from chat.mail import deliver_due

    with app.app_context():
        conversations.send_customer_message(first_product_id(app), "s" * 30, "URGENT it arrived broken")
        deliver_due()
    text = inbox.mails[0][1].get_body(("plain",)).get_content()
    assert f"{PUBLIC}/admin/inquiries/" in text
