"""Notification emails over real SMTP, caught by a local aiosmtpd server."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from chat.extensions import db
from chat.mail import deliver_due
from chat.models import OutboxEmail, User, utcnow
from chat.services import conversations, inquiries, notifications, shoppers

from .chat_helpers import Shopper, first_product_id
from .smtp_helpers import Inbox


@pytest.fixture
def smtp(app):
    inbox = Inbox()
    inbox.start()
    app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=inbox.port, PUBLIC_BASE_URL="http://shop.test")
    yield inbox
    inbox.stop()


@pytest.fixture
def ctx(app, demo):
    with app.app_context():
        bo = User(email="bo@shop.example", name="Bo")
        bo.set_password("bo-password-1")
        db.session.add(bo)
        db.session.commit()
        yield first_product_id(app)


def bodies(message):
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    return text, html


def test_an_urgent_new_inquiry_emails_every_admin_once_with_escaped_content(app, smtp, ctx):
    conversations.send_customer_message(ctx, "u" * 30, "URGENT: <script>alert(1)</script> it arrived broken")
    assert deliver_due() == (2, 0)
    assert deliver_due() == (0, 0)  # never twice
    assert sorted(rcpt[0] for rcpt, _ in smtp.mails) == ["admin@example.com", "bo@shop.example"]
    _, message = smtp.mails[0]
    assert message["Subject"] == "Urgent question about Trailhead 35L Hiking Backpack"
    text, html = bodies(message)
    assert "<script>alert(1)</script>" in text  # plain text is shown as text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>" not in html
    assert "http://shop.test/admin/inquiries/" in text


def test_raising_priority_emails_the_assignee_only(app, smtp, ctx):
    inquiry_id = conversations.send_customer_message(ctx, "p" * 30, "which size?").message.inquiry_id
    me = db.session.scalar(sa.select(User).filter_by(email="admin@example.com"))
    bo = db.session.scalar(sa.select(User).filter_by(email="bo@shop.example"))
    inquiries.assign(inquiry_id, me, bo.id)
    inquiries.set_priority(inquiry_id, me, "high")
    inquiries.set_priority(inquiry_id, me, "medium")
    inquiries.set_priority(inquiry_id, me, "high")  # raised again: still one mail per inquiry and admin
    assert deliver_due() == (1, 0)
    assert [rcpt for rcpt, _ in smtp.mails] == [["bo@shop.example"]]


def test_an_unanswered_inquiry_emails_once_per_waiting_period(app, smtp, ctx):
    inquiry_id = conversations.send_customer_message(ctx, "w" * 30, "hello?").message.inquiry_id
    assert notifications.scan() == 0  # not waiting long enough yet
    later = utcnow() + timedelta(minutes=app.config["NOTIFY_UNANSWERED_MINUTES"] + 1)
    assert notifications.scan(now=later) == 2
    assert notifications.scan(now=later) == 0
    assert deliver_due() == (2, 0)
    assert smtp.mails[0][1]["Subject"] == "Unanswered question about Trailhead 35L Hiking Backpack"
    # Answered, then a new question: a new waiting period, a new mail.
    conversations.add_admin_message(inquiry_id, "Hi!")
    conversations.send_customer_message(ctx, "w" * 30, "one more")
    much_later = utcnow() + timedelta(minutes=2 * app.config["NOTIFY_UNANSWERED_MINUTES"] + 2)
    assert notifications.scan(now=much_later) == 2


def test_an_unread_answer_emails_a_consenting_customer_with_a_link_back(app, smtp, ctx):
    session = "c" * 30
    inquiry_id = conversations.send_customer_message(ctx, session, "does it fit?").message.inquiry_id
    conversations.send_customer_message(ctx, "n" * 30, "no email here")
    shoppers.set_email(session, "cy@example.com", True)
    answer = conversations.add_admin_message(inquiry_id, "Yes & it <fits>.").message
    other = conversations.find_inquiry(ctx, "n" * 30)
    conversations.add_admin_message(other.id, "answer without email")
    later = utcnow() + timedelta(minutes=app.config["NOTIFY_CUSTOMER_UNREAD_MINUTES"] + 1)
    db.session.execute(sa.delete(OutboxEmail))  # only the customer mails matter here
    db.session.commit()
    queued = notifications.scan(now=later)
    mails = db.session.scalars(sa.select(OutboxEmail).where(OutboxEmail.to_addr == "cy@example.com")).all()
    assert len(mails) == 1 and mails[0].dedupe_key == f"answer:{answer.id}"
    assert queued >= 1
    deliver_due()
    rcpt, message = next((r, m) for r, m in smtp.mails if r == ["cy@example.com"])
    text, html = bodies(message)
    assert "Yes & it <fits>." in text and "Yes &amp; it &lt;fits&gt;." in html
    # The link goes to the product's page; the resume token rides in the fragment (never sent to a server).
    token = re.search(rf"http://shop\.test/products/{ctx}#productchat-resume=(\S+)", text).group(1)
    # The widget there hands it over, and the conversation opens in a browser that never saw it.
    fresh = Shopper(app)
    fresh._keep(fresh.client.post("/embed/demo/resume", json={"token": token}, headers={"X-Chat-Session": ""}))
    assert fresh.token
    panel = fresh.conversation(ctx)
    assert "does it fit?" in panel and "it &lt;fits&gt;" in panel
    # Once read, no more mail for it.
    conversations.mark_read(inquiry_id, "customer")
    assert notifications.scan(now=later) == 0
    forged = app.test_client().post("/embed/demo/resume", json={"token": "forged"}, headers={"X-Chat-Session": ""})
    assert forged.status_code == 403


def test_an_smtp_failure_is_retried_and_loses_nothing(app, smtp, ctx):
    conversations.send_customer_message(ctx, "f" * 30, "URGENT please")
    smtp.stop()
    assert deliver_due() == (0, 2)
    failed = db.session.scalars(sa.select(OutboxEmail)).all()
    assert all(m.attempts == 1 and m.sent_at is None and m.last_error for m in failed)
    assert deliver_due() == (0, 0)  # not due again yet: it waits before retrying
    smtp.start()
    later = utcnow() + timedelta(minutes=5)
    assert deliver_due(now=later) == (2, 0)
    assert deliver_due(now=later) == (0, 0)
    assert len(smtp.mails) == 2


def test_a_mail_is_given_up_only_after_the_configured_attempts(app, smtp, ctx):
    app.config["MAIL_MAX_ATTEMPTS"] = 2
    conversations.send_customer_message(ctx, "g" * 30, "urgent")
    smtp.stop()
    deliver_due()
    deliver_due(now=utcnow() + timedelta(hours=2))
    mails = db.session.scalars(sa.select(OutboxEmail)).all()
    assert all(m.failed_at is not None and m.attempts == 2 and m.sent_at is None for m in mails)


def test_worker_command_runs_one_round(app, smtp, ctx, runner):
    conversations.send_customer_message(ctx, "k" * 30, "urgent!")
    result = runner.invoke(args=["chat", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert "sent 2" in result.output
    assert len(smtp.mails) == 2
