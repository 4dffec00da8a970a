"""One email field is one recipient: wherever an address is accepted, exactly one addr-spec,
stored normalised, and a mail's To: holds that one address."""

import re
import time

import pytest
import sqlalchemy as sa

from chat.extensions import db
from chat.mail import deliver_due
from chat.models import OutboxEmail, ProductInquiry, ProductMessage, Shopper, User
from chat.services import sites

from .chat_helpers import Shopper as Browser
from .chat_helpers import count, first_product_id, login_form_token, sign_identity
from .smtp_helpers import Inbox

NOT_ONE_ADDRESS = [
    "victim@x.io,attacker@evil.example",
    "victim@x.io,attacker",
    "victim@x.io>,<attacker@evil.example",
    "victim@x.io; attacker@evil.example",
    "Victim <victim@x.io>",
    '"Victim" victim@x.io',
    "victim@x.io (work)",
    "(work)victim@x.io",
    "victim@x.io\nBcc: attacker@evil.example",
    "victim@x.io\r\nBcc: attacker@evil.example",
    '"victim@x.io"@evil.example',
    "victim @x.io",
    "victim@x.io\u200b",
]


@pytest.fixture
def inbox(app):
    box = Inbox()
    box.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=box.port)
    yield box
    box.stop()


@pytest.mark.parametrize("address", NOT_ONE_ADDRESS)
def test_the_chats_email_form_takes_one_address_only(app, demo, address):
    shopper = Browser(app)
    shopper.send("1", "question")
    refused = shopper.post("/email", data={"customer_email": address, "email_consent": "yes"})
    assert refused.status_code == 422
    assert re.search(r"Please enter (one|a valid) email address", refused.get_data(as_text=True))
    with app.app_context():
        assert db.session.scalar(sa.select(Shopper.email)) is None
        assert db.session.scalar(sa.select(ProductInquiry.customer_email)) is None


@pytest.mark.parametrize("address", NOT_ONE_ADDRESS)
def test_the_json_api_takes_one_address_only_and_stores_nothing(app, demo, address):
    body = {"message_text": "hi", "customer_email": address, "email_consent": True}
    response = app.test_client().post(
        f"/api/products/{first_product_id(app)}/messages", json=body, headers={"X-Chat-Session": ""}
    )
    assert response.status_code == 422
    assert re.search(r"Please enter (one|a valid) email address", response.get_json()["error"])
    assert "customer_email" in response.get_json()["fields"]
    assert count(app, ProductMessage) == 0


def test_a_verified_customers_email_is_one_address_too(app, demo):
    with app.app_context():
        secret = sites.demo_site().identity_secret
    stamp = str(int(time.time()))
    email = "kim@example.com,attacker@evil.example"
    body = {
        "customer_id": "c-1",
        "email": email,
        "timestamp": stamp,
        "signature": sign_identity(secret, "c-1", email, stamp),  # the shop signed it: still not one address
    }
    response = app.test_client().post("/embed/demo/identify", json=body, headers={"X-Chat-Session": ""})
    assert response.status_code == 422 and "X-Chat-Session" not in response.headers
    assert count(app, Shopper) == 0


def test_addresses_are_stored_normalised(app, demo):
    shopper = Browser(app)
    shopper.send("1", "question")
    saved = shopper.post("/email", data={"customer_email": "  Kim.Lee@Example.COM ", "email_consent": "yes"})
    assert saved.status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(Shopper.email)) == "Kim.Lee@example.com"
        assert db.session.scalar(sa.select(ProductInquiry.customer_email)) == "Kim.Lee@example.com"


@pytest.mark.parametrize("address", ["admin@example.com,attacker@evil.example", "Admin <admin@example.com>"])
def test_the_admin_login_refuses_what_is_not_one_address(app, demo, address):
    client = app.test_client()
    form = {"email": address, "password": demo["admin_password"], "csrf_token": login_form_token(client)}
    response = client.post("/admin/login", data=form)
    assert response.status_code == 422
    assert "Please enter one email address" in response.get_data(as_text=True)


def test_create_admin_refuses_what_is_not_one_address(app, runner):
    for address in ("new@example.com,attacker@evil.example", "New <new@example.com>", "new@localhost"):
        result = runner.invoke(args=["chat", "create-admin", address, "--password", "long-enough-1"])
        assert result.exit_code != 0 and "EMAIL" in result.output
    ok = runner.invoke(args=["chat", "create-admin", "New@Example.com", "--password", "long-enough-1"])
    assert ok.exit_code == 0, ok.output
    with app.app_context():
        assert db.session.scalars(sa.select(User.email)).all() == ["new@example.com"]


def test_a_mail_goes_to_its_one_address_and_a_row_with_two_is_never_sent(app, demo, inbox):
    with app.app_context():
        for key, to in (("one", "cy@example.com"), ("two", "victim@x.io,attacker@evil.example")):
            db.session.add(OutboxEmail(dedupe_key=key, to_addr=to, subject="Hi", body_text="Hello"))
        db.session.commit()
        assert deliver_due() == (1, 1)
        failed = db.session.scalar(sa.select(OutboxEmail).filter_by(dedupe_key="two"))
        assert failed.failed_at is not None and failed.sent_at is None  # given up at once: no retry can help
        assert deliver_due() == (0, 0)
    assert [rcpt for rcpt, _ in inbox.mails] == [["cy@example.com"]]
    assert inbox.mails[0][1]["To"] == "cy@example.com"
