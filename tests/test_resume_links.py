"""A link or token minted for one person never becomes another person's session.

Resume links (in answer mails) work once, for CHAT_RESUME_LINK_HOURS, while the session still
has the address they were mailed to; they never replace a chat without the shopper's choice and
never feed identify. A verified customer always gets a session of their own."""

import time

import pytest
import sqlalchemy as sa
from itsdangerous.timed import TimestampSigner

from chat import identity, links
from chat.extensions import db
from chat.models import ProductInquiry
from chat.services import shoppers, sites

from .chat_helpers import Shopper, sign_identity


def _session_of(app, token):
    with app.test_request_context():
        return identity.read(token)[0]


def _verified(app, customer_id="c-17", email="kim@example.com"):
    with app.app_context():
        secret = sites.demo_site().identity_secret
    stamp = str(int(time.time()))
    return {
        "customer_id": customer_id,
        "email": email,
        "timestamp": stamp,
        "signature": sign_identity(secret, customer_id, email, stamp),
    }


def _identify(shopper, body):
    return shopper._keep(
        shopper.client.post("/embed/demo/identify", json=body, headers={"X-Chat-Session": shopper.token})
    )


def _resume(shopper, token, **extra):
    return shopper._keep(
        shopper.client.post(
            "/embed/demo/resume", json={"token": token, **extra}, headers={"X-Chat-Session": shopper.token}
        )
    )


def _mailed_link_token(app, shopper, product="1", text="my question", email="mallory@example.com"):
    """The shopper asks and leaves an email; the token of the link an answer mail would carry."""
    shopper.send(product, text)
    assert shopper.post("/email", data={"customer_email": email, "email_consent": "yes"}).status_code == 200
    session_id = _session_of(app, shopper.token)
    with app.app_context():
        inquiry = db.session.scalar(sa.select(ProductInquiry).filter_by(session_id=session_id))
        return links.resume_link(inquiry).split("#productchat-resume=")[1]


def test_a_verified_customer_gets_a_session_no_anonymous_token_holds(app, demo):
    """The first identify used to adopt the anonymous session: its token then read everything
    the verified customer wrote afterwards."""
    browser = Shopper(app)
    browser.send("1", "asked before logging in")
    anonymous_token = browser.token
    assert _identify(browser, _verified(app)).status_code == 200
    browser.send("2", "my address is 1 Main Street")
    assert "asked before logging in" in browser.conversation("1")  # the history came along
    # Whoever holds the anonymous token (a copy, a shared computer, a fixation) sees none of it.
    holder = Shopper(app)
    holder.token = anonymous_token
    assert "1 Main Street" not in holder.conversation("2")
    assert "asked before logging in" not in holder.conversation("1")
    assert "kim@example.com" not in holder.get("/conversations").get_data(as_text=True) + holder.conversation("1")


def test_a_resume_link_never_feeds_identify(app, demo):
    """The issue's session fixation: an attacker's own link opened on a logged-in shop page."""
    attacker = Shopper(app)
    link = _mailed_link_token(app, attacker, text="attacker's question")
    # The victim's widget, as it used to run: the link first, then the shop's signed identity.
    victim = Shopper(app)
    assert _resume(victim, link).status_code == 200
    assert _identify(victim, _verified(app)).status_code == 200
    assert "attacker's question" not in victim.conversation("1")  # not merged into the customer's history
    victim.send("2", "victim's secret")
    assert "victim's secret" not in attacker.conversation("2")
    assert "kim@example.com" not in attacker.conversation("1")
    # As the chat runs now: the identity first; the link then needs the shopper's choice.
    again = Shopper(app)
    assert _identify(again, _verified(app)).status_code == 200
    asked = _resume(again, _mailed_link_token(app, Shopper(app), product="3", email="eve@example.com"))
    assert asked.status_code == 409 and asked.get_json()["choice"] is True
    assert "X-Chat-Session" not in asked.headers


def test_a_resume_link_never_silently_replaces_a_chat(app, demo):
    link = _mailed_link_token(app, Shopper(app), text="the emailed conversation")
    shopper = Shopper(app)
    shopper.send("1", "my own question")
    own_token = shopper.token
    asked = _resume(shopper, link)
    assert asked.status_code == 409 and asked.get_json() == {
        "error": "You already have a chat here: open the conversation from the email instead?",
        "choice": True,
    }
    assert "X-Chat-Session" not in asked.headers and shopper.token == own_token
    assert "my own question" in shopper.conversation("1")
    # The shopper chooses the emailed conversation.
    assert _resume(shopper, link, replace=True).status_code == 200
    assert shopper.token != own_token and "the emailed conversation" in shopper.conversation("1")
    # A browser with nothing to lose is not asked.
    fresh = Shopper(app)
    other_link = _mailed_link_token(app, Shopper(app), product="2", text="second", email="b@example.com")
    assert _resume(fresh, other_link).status_code == 200 and "second" in fresh.conversation("2")


def test_a_resume_link_works_once(app, demo):
    link = _mailed_link_token(app, Shopper(app))
    first = Shopper(app)
    assert _resume(first, link).status_code == 200 and "my question" in first.conversation("1")
    assert _resume(first, link).status_code == 200  # opened again where it was opened: nothing new handed over
    second = Shopper(app)
    used = _resume(second, link)
    assert used.status_code == 403 and "used already" in used.get_json()["error"]
    assert not second.token and "my question" not in second.conversation("1")


@pytest.mark.parametrize("app_config", [{"CHAT_RESUME_LINK_HOURS": 48}])
def test_a_resume_link_expires_after_the_configured_hours(app, demo, monkeypatch):
    owner = Shopper(app)
    with monkeypatch.context() as clock:
        clock.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 48 * 3600 - 60)
        stale = _mailed_link_token(app, owner)
    with monkeypatch.context() as clock:
        clock.setattr(TimestampSigner, "get_timestamp", lambda self: int(time.time()) - 47 * 3600)
        recent = _mailed_link_token(app, owner)
    assert _resume(Shopper(app), stale).status_code == 403
    assert _resume(Shopper(app), recent).status_code == 200


def test_a_resume_link_works_only_while_the_session_keeps_the_address_it_was_mailed_to(app, demo):
    owner = Shopper(app)
    link = _mailed_link_token(app, owner, email="ann@example.com")
    owner.post("/email", data={"customer_email": "ann.new@example.com", "email_consent": "yes"})
    assert _resume(Shopper(app), link).status_code == 403
    owner.post("/email/forget")
    assert _resume(Shopper(app), link).status_code == 403
    # Ended by an admin (privacy tools): every link minted before is refused too.
    second = Shopper(app)
    link = _mailed_link_token(app, second, product="2", email="cy@example.com")
    with app.app_context():
        shoppers.revoke([_session_of(app, second.token)])
    assert _resume(Shopper(app), link).status_code == 403


def test_a_resume_link_opens_only_on_its_own_site(app, demo):
    link = _mailed_link_token(app, Shopper(app))
    with app.app_context():
        other = sites.create("Clay & Co", ["https://clay.example"])[0].public_id
    elsewhere = Shopper(app, site=other)
    response = elsewhere.client.post(f"/embed/{other}/resume", json={"token": link}, headers={"X-Chat-Session": ""})
    assert response.status_code == 403 and "X-Chat-Session" not in response.headers
