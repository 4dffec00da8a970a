"""Answer by email: a reply to one of our mails becomes a message in its chat.

The app's mails go out over SMTP to an aiosmtpd server on loopback; replies come
back in through `flask chat mail-in`'s SMTP server (also on loopback) or the
inbound webhook, as a mail provider would post them.
"""

import re
import smtplib
import threading
import time
import uuid
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat import inbound_smtp
from chat.devmail import reply_to
from chat.extensions import db
from chat.live import current_broker
from chat.live.events import ADMIN_NOTICES, customer_channel
from chat.live.names import Event
from chat.mail import deliver_due
from chat.models import InboundEmail, OutboxEmail, ProductInquiry, ProductMessage, User, utcnow
from chat.services import conversations, inquiries, mail_in, notifications, reply_addresses, shoppers

from .backends import IN_CI
from .chat_helpers import Shopper, first_product_id
from .live_server import free_port
from .smtp_helpers import Inbox

DOMAIN = "reply.shop.test"
SECRET = "inbound-test-secret"
ADMIN = "admin@example.com"
AUTH = {"Authorization": f"Bearer {SECRET}"}


@pytest.fixture
def app_config():
    return {"MAIL_REPLY_DOMAIN": DOMAIN, "INBOUND_EMAIL_SECRET": SECRET, "PUBLIC_BASE_URL": "http://shop.test"}


@pytest.fixture
def smtp(app):
    """Where the app's mails go (MAIL_SERVER/MAIL_PORT)."""
    inbox = Inbox()
    inbox.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=inbox.port)
    yield inbox
    inbox.stop()


@pytest.fixture
def mail_in_port(app):
    """`flask chat mail-in`'s server, on loopback."""
    port = free_port()
    controller = inbound_smtp.start(app, "127.0.0.1", port, 64 * 1024)
    yield port
    controller.stop()


@pytest.fixture
def product(app, demo, smtp):
    with app.app_context():
        yield first_product_id(app)


def fresh():
    """Forget this thread's transaction: the mail-in server wrote in its own (MariaDB's
    repeatable read would show this one's old snapshot)."""
    db.session.rollback()
    db.session.expire_all()


def admin_user(email=ADMIN):
    return db.session.scalar(sa.select(User).filter_by(email=email))


def mails_to(smtp, address):
    return [message for rcpt, message in smtp.mails if rcpt == [address]]


def send_in(port, raw, rcpt, mail_from="sender@example.org"):
    """One SMTP transaction to mail-in: the last reply's (code, text)."""
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
        client.ehlo()
        client.mail(mail_from)
        code, text = client.rcpt(rcpt)
        if code != 250:
            return code, text
        return client.data(raw)


def post_in(app, raw, headers=AUTH, **kwargs):
    return app.test_client().post("/api/inbound/email", data=raw, headers=headers, **kwargs)


def urgent_question(app, product, text="URGENT: the strap broke on day one, I want a refund"):
    """A shopper asks through the widget and the admin's mail goes out: (shopper, inquiry)."""
    shopper = Shopper(app)
    assert shopper.send(product, text).status_code == 201
    inquiry = db.session.scalar(sa.select(ProductInquiry).order_by(ProductInquiry.id.desc()))
    assert deliver_due()[0] >= 1
    return shopper, inquiry


def admin_mail(smtp):
    return mails_to(smtp, ADMIN)[-1]


def last_message(inquiry_id):
    fresh()
    return db.session.scalar(
        sa.select(ProductMessage)
        .filter_by(inquiry_id=inquiry_id, message_type="text")
        .order_by(ProductMessage.id.desc())
    )


def outcomes():
    fresh()
    return [row.outcome for row in db.session.scalars(sa.select(InboundEmail).order_by(InboundEmail.id))]


def explanations():
    fresh()
    return db.session.scalars(sa.select(OutboxEmail).where(OutboxEmail.dedupe_key.like("mail-in:%"))).all()


def drain(subscription):
    events = []
    while (event := subscription.get(0.05)) is not None:
        events.append(event)
    return events


# -- both sides ---------------------------------------------------------------------


def test_an_admins_reply_by_mail_becomes_their_answer(app, product, smtp, mail_in_port):
    shopper, inquiry = urgent_question(app, product)
    stream = current_broker(app).subscribe([customer_channel(inquiry.session_id)])
    mail = admin_mail(smtp)
    reply_address = str(mail["Reply-To"])
    assert re.fullmatch(rf"reply\+[0-9a-z-]+@{re.escape(DOMAIN)}", reply_address)
    assert len(reply_address.split("@")[0]) <= 64  # RFC 5321's limit for a local part
    assert mail["Auto-Submitted"] == "auto-generated" and mail["X-Loop"] == "chat@localhost"
    assert "Or reply to this email" in mail.get_body(("plain",)).get_content()

    reply = reply_to(mail.as_bytes(), "Sorry about that! A new one goes out today.\n\nKim from the shop")
    code, _ = send_in(mail_in_port, reply, reply_address, ADMIN)
    assert code == 250

    answer = last_message(inquiry.id)
    # The quoted mail and its "On ... wrote:" line are gone; the answer is the admin's.
    assert answer.message_text == "Sorry about that! A new one goes out today.\n\nKim from the shop"
    assert answer.sender_type == "admin" and answer.sender_id == admin_user().id
    # The inquiry moved on as it does for an answer from the panel.
    inquiry = db.session.get(ProductInquiry, inquiry.id)
    assert inquiry.status == "in_progress" and inquiry.waiting_since is None
    assert inquiry.first_response_at is not None
    notes = db.session.scalars(
        sa.select(ProductMessage.message_text).filter_by(inquiry_id=inquiry.id, message_type="system")
    ).all()
    assert any(note.startswith("Marked in progress by") for note in notes)
    # The shopper's stream heard it, and the chat shows it.
    heard = [e for e in drain(stream) if e["type"] == Event.MESSAGE]
    current_broker(app).unsubscribe(stream)
    assert [e["data"]["message_id"] for e in heard] == [answer.id]
    assert "A new one goes out today." in shopper.conversation(product)
    assert outcomes() == ["answer"]


def test_a_shoppers_reply_is_their_follow_up_and_reopens_a_resolved_inquiry(app, product, smtp):
    shopper = Shopper(app)
    shopper.send(product, "Does it fit a 16 inch laptop?")
    inquiry = db.session.scalar(sa.select(ProductInquiry))
    shoppers.set_email(inquiry.session_id, "cy@example.com", True)
    admin = admin_user()
    inquiries.respond(inquiry.id, admin, "Yes, up to 16 inch.")
    inquiries.set_status(inquiry.id, admin, "resolved")
    later = utcnow() + timedelta(minutes=app.config["NOTIFY_CUSTOMER_UNREAD_MINUTES"] + 1)
    notifications.scan(now=later)
    deliver_due()
    [mail] = mails_to(smtp, "cy@example.com")
    assert mail["Reply-To"] and "Or reply to this email" in mail.get_body(("plain",)).get_content()
    badge = current_broker(app).subscribe([ADMIN_NOTICES])

    response = post_in(app, reply_to(mail.as_bytes(), "Great, and a 17 inch one?"))
    assert response.status_code == 202 and response.get_json()["outcome"] == "follow_up"

    follow_up = last_message(inquiry.id)
    assert follow_up.sender_type == "customer" and follow_up.message_text == "Great, and a 17 inch one?"
    inquiry = db.session.get(ProductInquiry, inquiry.id)
    # Reopened and waiting again, with the note admins see: as a widget message does.
    assert inquiry.status == "pending" and inquiry.waiting_since is not None
    assert conversations.REOPENED in [m.message_text for m in inquiry.messages]
    assert [e["data"]["message_id"] for e in drain(badge) if e["type"] == Event.WAITING] == [follow_up.id]
    current_broker(app).unsubscribe(badge)
    assert "Great, and a 17 inch one?" in shopper.conversation(product)


def test_an_html_only_reply_is_turned_to_text(app, product, smtp):
    shopper, inquiry = urgent_question(app, product)
    mail = admin_mail(smtp)
    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = f"Admin <{ADMIN}>", mail["Reply-To"], "Re: urgent"
    reply["Message-ID"] = make_msgid(domain="mail.example.com")
    reply.set_content(
        "<html><head><style>div{color:red}</style></head><body>"
        '<div dir="ltr">We will send a <b>new strap</b> &amp; a label.<br>Kim</div>'
        "<script>alert(1)</script><img src=https://tracker.example/x.png>"
        '<div class="gmail_quote">On Mon, 3 Mar 2025 at 10:00, Product chat &lt;chat@localhost&gt; wrote:<br>'
        '<blockquote class="gmail_quote">An urgent question came in</blockquote></div></body></html>',
        subtype="html",
    )
    assert post_in(app, reply.as_bytes()).get_json()["outcome"] == "answer"
    assert last_message(inquiry.id).message_text == "We will send a new strap & a label.\nKim"
    shown = shopper.conversation(product)
    assert "new strap &amp; a label." in shown and "<b>" not in shown and "tracker.example" not in shown


@pytest.mark.parametrize(
    "language, text",
    [
        ("de", "Ja, kommt morgen.\n\nAm Mo., 3. März 2025 um 10:00 Uhr schrieb Product chat <\nchat@localhost>:\n\n"),
        ("fr", "Oui, demain.\n\nVon meinem iPhone gesendet\n\nLe lun. 3 mars 2025 à 10:00, Product chat a écrit :\n"),
    ],
)
def test_german_and_french_quote_lines_are_stripped_too(app, product, smtp, language, text):
    _, inquiry = urgent_question(app, product)
    mail = admin_mail(smtp)
    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = ADMIN, mail["Reply-To"], "AW: urgent"
    reply["Message-ID"] = make_msgid(domain="mail.example.com")
    reply.set_content(text + "> An urgent question came in\n", charset="utf-8")
    assert post_in(app, reply.as_bytes()).get_json()["outcome"] == "answer"
    assert last_message(inquiry.id).message_text == {"de": "Ja, kommt morgen.", "fr": "Oui, demain."}[language]


# -- checks -------------------------------------------------------------------------


def test_a_reply_from_another_address_is_dropped_with_one_explanation(app, product, smtp, mail_in_port):
    _, inquiry = urgent_question(app, product)
    mail = admin_mail(smtp)
    before = last_message(inquiry.id).id
    for text in ("Forwarded to me, here is my answer", "And once more"):
        reply = reply_to(mail.as_bytes(), text, sender="Mallory <mallory@example.net>")
        assert send_in(mail_in_port, reply, str(mail["Reply-To"]))[0] == 250
    assert last_message(inquiry.id).id == before  # nothing reached the chat
    assert outcomes() == ["wrong_sender", "wrong_sender"]
    deliver_due()
    [explained] = mails_to(smtp, "mallory@example.net")  # one, however many they send within the hour
    assert explained["Subject"] == mail_in.SUBJECT and explained["Reply-To"] is None
    assert explained["Auto-Submitted"] == "auto-generated"
    text = explained.get_body(("plain",)).get_content()
    assert "another address than the one our email went to" in text
    assert "Forwarded" not in text and "strap" not in text  # nothing of theirs or the chat's


def test_an_expired_reply_address_is_refused(app, product, smtp):
    _, inquiry = urgent_question(app, product)
    mail = admin_mail(smtp)
    days = app.config["MAIL_REPLY_DAYS"]
    admin = admin_user()
    for age_days, text in ((days + 1, "too late"), (days - 1, "still in time")):
        address = reply_addresses.for_admin(inquiry, admin, now=time.time() - age_days * 86400)
        del mail["Reply-To"]
        mail["Reply-To"] = address
        post_in(app, reply_to(mail.as_bytes(), text))
    assert outcomes() == ["expired", "answer"]
    assert last_message(inquiry.id).message_text == "still in time"
    [explained] = explanations()
    assert f"expired (replies work for {days} days" in explained.body_text and explained.to_addr == ADMIN


def test_a_forged_or_altered_token_is_refused(app, product, smtp):
    _, inquiry = urgent_question(app, product)
    mail = admin_mail(smtp)
    good = str(mail["Reply-To"])
    token = reply_addresses.parse(good)
    other = conversations.send_customer_message(product, uuid.uuid4().hex, "Which colours?").message.inquiry_id
    b36 = reply_addresses._b36
    flipped = token.tag[:-1] + ("a" if token.tag[-1] != "a" else "b")
    forged = [
        f"reply+{token.payload}-{flipped}@{DOMAIN}",  # one letter of the tag
        f"reply+a{b36(other)}-{b36(token.recipient_id)}-{b36(token.issued)}-{token.tag}@{DOMAIN}",  # another inquiry
        f"reply+nonsense@{DOMAIN}",
        f"support@{DOMAIN}",
    ]
    for address in forged:
        del mail["Reply-To"]
        mail["Reply-To"] = address
        assert post_in(app, reply_to(mail.as_bytes(), "sneaky")).status_code == 202
    assert outcomes() == ["bad_token", "bad_token", "bad_token", "no_address"]
    assert last_message(inquiry.id).message_text != "sneaky"
    assert len(explanations()) == 1  # one an hour to the same address


def test_a_reply_stops_working_when_the_shopper_removes_their_address(app, product, smtp):
    shopper = Shopper(app)
    shopper.send(product, "Is it waterproof?")
    inquiry = db.session.scalar(sa.select(ProductInquiry))
    shoppers.set_email(inquiry.session_id, "cy@example.com", True)
    inquiries.respond(inquiry.id, admin_user(), "Yes, up to light rain.")
    notifications.scan(now=utcnow() + timedelta(hours=1))
    deliver_due()
    [mail] = mails_to(smtp, "cy@example.com")
    shoppers.forget_email(inquiry.session_id)
    assert post_in(app, reply_to(mail.as_bytes(), "and heavy rain?")).get_json()["outcome"] == "bad_token"
    # A new address does not inherit the old mails' reply addresses (they were for the old one).
    shoppers.set_email(inquiry.session_id, "cy.new@example.com", True)
    reply = reply_to(mail.as_bytes(), "from my new address", sender="cy.new@example.com")
    assert post_in(app, reply).get_json()["outcome"] == "bad_token"
    assert last_message(inquiry.id).message_text == "Yes, up to light rain."


def test_a_deactivated_admin_cannot_answer_by_mail(app, product, smtp):
    _, inquiry = urgent_question(app, product)
    mail = admin_mail(smtp)
    admin_user().is_active = False
    db.session.commit()
    assert post_in(app, reply_to(mail.as_bytes(), "I left last week")).get_json()["outcome"] == "not_allowed"
    assert last_message(inquiry.id).sender_type == "customer"


def test_an_admin_who_no_longer_works_on_the_site_cannot_answer_by_mail(app, product, smtp):
    """Mail-in follows site membership like the panel (chat/services/access.py)."""
    from chat.services import sites

    _, inquiry = urgent_question(app, product)
    mail = admin_mail(smtp)
    other, _ = sites.create("Other shop", public_id="other")
    admin = admin_user()
    admin.all_sites, admin.sites = False, [other]
    db.session.commit()
    assert post_in(app, reply_to(mail.as_bytes(), "not my shop now")).get_json()["outcome"] == "not_allowed"
    assert last_message(inquiry.id).sender_type == "customer"


def test_an_empty_reply_or_one_too_long_is_explained(app, product, smtp):
    _, inquiry = urgent_question(app, product)
    mail = admin_mail(smtp)
    assert post_in(app, reply_to(mail.as_bytes(), "")).get_json()["outcome"] == "empty"
    db.session.execute(sa.delete(OutboxEmail))  # the hourly allowance, again
    db.session.commit()
    too_long = "x" * (app.config["CHAT_MAX_MESSAGE_LENGTH"] + 1)
    assert post_in(app, reply_to(mail.as_bytes(), too_long)).get_json()["outcome"] == "unusable"
    [explained] = explanations()
    assert "at most 2000 characters" in explained.body_text
    assert last_message(inquiry.id).sender_type == "customer"  # nothing half-written


MACHINE_MAILS = [
    ({"Auto-Submitted": "auto-replied"}, "automatic"),
    ({"Auto-Submitted": "auto-generated (vacation)"}, "automatic"),
    ({"Precedence": "bulk"}, "automatic"),
    ({"Precedence": "auto_reply"}, "automatic"),
    ({"X-Autoreply": "yes"}, "automatic"),
    ({"X-Autorespond": "I am away"}, "automatic"),
    ({"X-Loop": "chat@localhost"}, "loop"),
    ({"Message-ID": "<outbox-1.123@product-chat>"}, "loop"),
    ({"From": "Product chat <chat@localhost>"}, "loop"),
    ({"From": f"reply+a1-1-1-aaaaaaaaaaaaaaaa@{DOMAIN}"}, "loop"),
    ({"From": "MAILER-DAEMON@mail.example.com"}, "automatic"),
    ({"Return-Path": "<>"}, "automatic"),
]


@pytest.mark.parametrize("headers, outcome", MACHINE_MAILS)
def test_auto_replies_and_our_own_mails_coming_back_are_dropped_silently(app, product, smtp, headers, outcome):
    _, inquiry = urgent_question(app, product)
    reply = message_from_bytes(reply_to(admin_mail(smtp).as_bytes(), "I am out of office"), policy=policy.default)
    for name, value in headers.items():
        del reply[name]
        reply[name] = value
    assert post_in(app, reply.as_bytes()).get_json()["outcome"] == outcome
    assert last_message(inquiry.id).sender_type == "customer"
    assert explanations() == []  # never answered: that is how mail loops start


def test_a_bounce_or_report_is_dropped_silently(app, product, smtp, mail_in_port):
    _, inquiry = urgent_question(app, product)
    mail = admin_mail(smtp)
    bounce = reply_to(mail.as_bytes(), "Delivery failed")
    assert send_in(mail_in_port, bounce, str(mail["Reply-To"]), mail_from="<>")[0] == 250
    report = message_from_bytes(reply_to(mail.as_bytes(), "Read"), policy=policy.default)
    report.replace_header("Content-Type", 'multipart/report; report-type=disposition-notification; boundary="b"')
    assert send_in(mail_in_port, report.as_bytes(), str(mail["Reply-To"]), ADMIN)[0] == 250
    assert outcomes() == ["automatic", "automatic"] and explanations() == []
    assert last_message(inquiry.id).sender_type == "customer"


def test_the_same_message_id_is_stored_once(app, product, smtp, mail_in_port):
    _, inquiry = urgent_question(app, product)
    mail = admin_mail(smtp)
    reply = reply_to(mail.as_bytes(), "Only once, please.")
    assert send_in(mail_in_port, reply, str(mail["Reply-To"]), ADMIN)[0] == 250
    response = post_in(app, reply)  # the provider's webhook delivers it again
    assert response.status_code == 202 and response.get_json()["outcome"] == "duplicate"
    # Delivered again by several servers at the same moment.
    again = reply_to(mail.as_bytes(), "At the same moment.")
    results = []

    def deliver():
        with app.app_context():
            results.append(mail_in.receive(again).outcome)

    threads = [threading.Thread(target=deliver) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["answer", "duplicate", "duplicate", "duplicate"]
    fresh()
    texts = db.session.scalars(
        sa.select(ProductMessage.message_text).filter_by(
            inquiry_id=inquiry.id, sender_type="admin", message_type="text"
        )
    ).all()
    assert texts == ["Only once, please.", "At the same moment."]
    assert db.session.scalar(sa.select(sa.func.count(InboundEmail.id))) == 2


# -- ways in ------------------------------------------------------------------------


def test_the_webhook_needs_its_secret(app, product, smtp):
    _, inquiry = urgent_question(app, product)
    reply = reply_to(admin_mail(smtp).as_bytes(), "Let me in")
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {SECRET}"}, {"X-Secret": SECRET}):
        response = post_in(app, reply, headers=headers)
        assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
        assert "error" in response.get_json()
    assert outcomes() == [] and last_message(inquiry.id).sender_type == "customer"
    assert post_in(app, b"  ").status_code == 400
    app.config["MAIL_REPLY_DOMAIN"] = None  # mail-in off
    assert post_in(app, reply).status_code == 404


def test_the_webhook_takes_mails_up_to_its_own_size_limit(app, product, smtp):
    _, inquiry = urgent_question(app, product)
    mail = admin_mail(smtp)
    app.config["INBOUND_EMAIL_MAX_BYTES"] = 200_000
    # Larger than MAX_CONTENT_LENGTH (64 KB): a long quoted thread below a short answer.
    long_thread = reply_to(mail.as_bytes(), "Short answer.\n\n" + "> quoted line of an old thread\n" * 3000)
    assert app.config["MAX_CONTENT_LENGTH"] < len(long_thread) < 200_000
    assert post_in(app, long_thread).get_json()["outcome"] == "answer"
    assert last_message(inquiry.id).message_text == "Short answer."
    app.config["INBOUND_EMAIL_MAX_BYTES"] = 50_000
    too_large = reply_to(mail.as_bytes(), "Too large.\n\n" + "> quoted\n" * 10_000)
    response = post_in(app, too_large)
    assert response.status_code == 413 and "error" in response.get_json()
    assert outcomes() == ["answer"]


def test_mail_in_takes_mail_for_reply_addresses_only_and_up_to_its_size_limit(app, product, smtp, mail_in_port):
    _, inquiry = urgent_question(app, product)
    mail = admin_mail(smtp)
    reply = reply_to(mail.as_bytes(), "Relay this")
    code, text = send_in(mail_in_port, reply, "someone@elsewhere.example", ADMIN)
    assert code == 550  # relays nothing
    large = reply_to(mail.as_bytes(), "x" * (70 * 1024))
    with smtplib.SMTP("127.0.0.1", mail_in_port, timeout=10) as client:
        with pytest.raises(smtplib.SMTPSenderRefused) as refused:
            client.sendmail(ADMIN, [str(mail["Reply-To"])], large)  # announces SIZE: refused at MAIL
    assert refused.value.smtp_code == 552
    assert outcomes() == [] and last_message(inquiry.id).sender_type == "customer"


def test_no_reply_address_while_mail_in_is_off(app, product, smtp):
    app.config["MAIL_REPLY_DOMAIN"] = None
    urgent_question(app, product)
    mail = admin_mail(smtp)
    assert mail["Reply-To"] is None and "reply to this email" not in mail.get_body(("plain",)).get_content()


def test_each_digest_item_has_its_own_reply_address(app, product, smtp):
    app.config["CHAT_URGENT_MAILS_PER_HOUR"] = 1
    urgent_question(app, product)
    second = conversations.send_customer_message(product, uuid.uuid4().hex, "URGENT: wrong item arrived")
    digest = db.session.scalar(sa.select(OutboxEmail).where(OutboxEmail.dedupe_key.like("digest:%")))
    assert digest.reply_to is None  # one mail, several inquiries: the items say where to reply
    [address] = re.findall(rf"answer by email: (reply\+\S+@{re.escape(DOMAIN)})\)", digest.body_text)
    assert f'href="mailto:{address}"' in digest.body_html
    reply = EmailMessage()
    reply["From"], reply["To"], reply["Subject"] = ADMIN, address, "Re: More urgent questions"
    reply["Message-ID"] = make_msgid(domain="mail.example.com")
    reply.set_content("We will send the right one.")
    assert post_in(app, reply.as_bytes()).get_json()["outcome"] == "answer"
    assert last_message(second.message.inquiry_id).message_text == "We will send the right one."


def test_reply_to_mail_answers_a_caught_mail_directly_and_explains_a_mail_without_reply_to(
    app, product, smtp, runner, tmp_path
):
    _, inquiry = urgent_question(app, product)
    caught = tmp_path / "caught.eml"
    caught.write_bytes(admin_mail(smtp).as_bytes())
    result = runner.invoke(args=["chat", "reply-to-mail", str(caught), "On its way.", "--direct"])
    assert result.exit_code == 0, result.output
    assert result.output == f"The admin's answer in inquiry {inquiry.id} (message {last_message(inquiry.id).id}).\n"
    assert last_message(inquiry.id).message_text == "On its way."
    without = EmailMessage()
    without["From"], without["To"], without["Subject"] = "chat@localhost", ADMIN, "More urgent questions"
    without.set_content("a digest")
    caught.write_bytes(without.as_bytes())
    result = runner.invoke(args=["chat", "reply-to-mail", str(caught), "hello", "--direct"])
    assert result.exit_code == 1 and "This mail has no Reply-To" in result.output


def test_purge_forgets_inbound_mail_ids_once_their_reply_addresses_have_expired(app, product):
    from chat.services import privacy

    days = app.config["MAIL_REPLY_DAYS"]
    now = utcnow()
    for age, key in ((days + 8, "old"), (days + 6, "recent")):
        db.session.add(InboundEmail(message_key=key, outcome="answer", received_at=now - timedelta(days=age)))
    db.session.commit()
    privacy.purge(app.config["CHAT_RETENTION_DAYS"], now=now)
    fresh()
    assert db.session.scalars(sa.select(InboundEmail.message_key)).all() == ["recent"]


HEADER_NAMES = ["From", "To", "Cc", "Delivered-To", "Message-ID", "Auto-Submitted", "Precedence", "X-Loop",
                "Content-Type", "Content-Transfer-Encoding", "Return-Path", "Subject", "Reply-To"]  # fmt: skip
header_values = st.one_of(
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x2FF), max_size=60),
    st.sampled_from(
        [
            f"reply+a1-1-1-aaaaaaaaaaaaaaaa@{DOMAIN}",
            f"<reply+c{'z' * 13}-{'z' * 13}-zzzzzzzz-{'a' * 16}@{DOMAIN}>",
            f"reply+@{DOMAIN}",
            "=?utf-8?b?w6TDtsO8?= <a@b.c>",
            "=?x-unknown?q?abc?= <a@b.c>",
            'multipart/mixed; boundary="b"',
            "text/html; charset=x-unknown",
            "text/plain; format=flowed; delsp=yes",
            "base64",
            "quoted-printable",
            "a@b.c, d@e.f",
            "<>",
            "",
        ]
    ),
)
bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(lambda text: text.encode("utf-8", "surrogatepass")),
    st.sampled_from(
        [b"--b\r\nContent-Type: text/html\r\n\r\n<p>x</p>\r\n--b--\r\n", b"<blockquote><blockquote>", b"=ZZ"]
    ),
)


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    derandomize=IN_CI,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(headers=st.lists(st.tuples(st.sampled_from(HEADER_NAMES), header_values), max_size=8), body=bodies)
def test_no_mail_makes_mail_in_fail_or_store_what_it_should_not(app, product, headers, body):
    raw = b"".join(f"{name}: {value}\r\n".encode("utf-8", "surrogatepass") for name, value in headers) + b"\r\n" + body
    before = db.session.scalar(sa.select(sa.func.count(ProductMessage.id)))
    result = mail_in.receive(raw)
    assert result.outcome in mail_in.REASONS.keys() | {mail_in.AUTOMATIC, mail_in.LOOP, mail_in.DUPLICATE}
    fresh()
    assert db.session.scalar(sa.select(sa.func.count(ProductMessage.id))) == before


@pytest.fixture
def reply_address(app, product, smtp):
    urgent_question(app, product)
    return str(admin_mail(smtp)["Reply-To"])


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    derandomize=IN_CI,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    content_type=header_values,
    encoding=st.sampled_from(["", "base64", "quoted-printable", "8bit", "x-unknown"]),
    body=bodies,
)
def test_any_body_of_a_genuine_reply_is_text_or_refused_never_a_failure(
    app, reply_address, content_type, encoding, body
):
    # Not make_msgid: Hypothesis seeds `random` alike for each example, and its ids would repeat.
    headers = [("From", ADMIN), ("To", reply_address), ("Message-ID", f"<{uuid.uuid4()}@fuzz.example>")]
    headers += [("Content-Type", content_type)] + ([("Content-Transfer-Encoding", encoding)] if encoding else [])
    raw = b"".join(f"{name}: {value}\r\n".encode("utf-8", "surrogatepass") for name, value in headers) + b"\r\n" + body
    result = mail_in.receive(raw)
    assert result.outcome in {mail_in.ANSWER, mail_in.EMPTY, mail_in.UNUSABLE}
    if result.outcome == mail_in.ANSWER:
        stored = last_message(result.inquiry_id).message_text
        assert stored.strip() and "\x00" not in stored and len(stored) <= app.config["CHAT_MAX_MESSAGE_LENGTH"]
