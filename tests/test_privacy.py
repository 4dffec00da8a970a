"""Purge, export and erase do exactly what they say; logs carry no text or addresses."""

import json
import logging
import re
from datetime import timedelta

import sqlalchemy as sa

from chat.extensions import db
from chat.models import OutboxEmail, ProductInquiry, ProductMessage, User, utcnow
from chat.services import admin_tokens, conversations, inquiries, notifications, privacy, shoppers

from .chat_helpers import admin_login, first_product_id

MARK = "zebra-marker-7f3a"
EMAIL = "cy.private@example.com"


def _all_text(app):
    """Every text column of every table, concatenated: where a leftover would hide."""
    out = []
    with app.app_context():
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(sa.select(table)).all():
                out.extend(str(value) for value in row if isinstance(value, str))
    return "\n".join(out)


def _customer_with_two_products(app, session="cy-session-" + "x" * 20):
    """A customer who asked about two products, left an email, and got an answer mailed."""
    with app.app_context():
        from chat.models import Product

        pids = db.session.scalars(sa.select(Product.id).order_by(Product.id).limit(2)).all()
        first = conversations.send_customer_message(pids[0], session, f"Is it waterproof? {MARK}").message
        conversations.send_customer_message(pids[1], session, f"And this one? {MARK}")
        shoppers.set_email(session, EMAIL, True)
        admin = db.session.scalar(sa.select(User))
        inquiries.respond(first.inquiry_id, admin, f"Yes it is {MARK}")
        notifications.scan(now=utcnow() + timedelta(hours=1))  # queues the unread-answer mail
        assert db.session.scalar(sa.select(sa.func.count(OutboxEmail.id)).where(OutboxEmail.to_addr == EMAIL)) == 1
        return first.inquiry_id, session


def test_export_finds_the_customer_by_email_or_inquiry(app, demo):
    inquiry_id, _ = _customer_with_two_products(app)
    with app.app_context():
        conversations.send_customer_message(first_product_id(app), "stranger-" + "y" * 20, "not theirs")
        by_email = privacy.export(privacy.find_customer(email=EMAIL))
        by_inquiry = privacy.export(privacy.find_customer(inquiry_id=inquiry_id))
    assert by_email["inquiries"] == by_inquiry["inquiries"]
    texts = [m["text"] for i in by_email["inquiries"] for m in i["messages"]]
    assert f"Is it waterproof? {MARK}" in texts and f"And this one? {MARK}" in texts
    assert "not theirs" not in texts
    assert by_email["emails"] == [EMAIL] and len(by_email["emails_sent_to_customer"]) == 1


def test_erase_leaves_no_text_or_address_behind(app, demo):
    inquiry_id, session = _customer_with_two_products(app)
    with app.app_context():
        conversations.send_customer_message(first_product_id(app), "stranger-" + "y" * 20, "keep me")
        token = None
        from chat import identity

        with app.test_request_context():
            token = identity.sign(session)
        counts = privacy.erase(privacy.find_customer(inquiry_id=inquiry_id))
    # Two questions, one answer, its "in progress" note; the answer mail and an "unanswered" mail.
    assert counts == {"inquiries": 2, "messages": 4, "files": 0, "emails": 2}
    leftovers = _all_text(app)
    assert MARK not in leftovers and EMAIL not in leftovers
    assert "keep me" in leftovers
    # The customer's old token now names nobody.
    pid = first_product_id(app)
    body = app.test_client().get(f"/api/products/{pid}/messages", headers={"X-Chat-Session": token}).get_json()
    assert body["messages"] == []


def test_erase_from_the_inquiry_page_needs_confirmation(app, demo):
    inquiry_id, _ = _customer_with_two_products(app)
    client = app.test_client()
    csrf = admin_login(client, demo["admin_email"], demo["admin_password"])
    page = client.get(f"/admin/inquiries/{inquiry_id}").get_data(as_text=True)
    assert "Export this customer" in page and "Erase all data" in page
    export = client.get(f"/admin/inquiries/{inquiry_id}/customer/export")
    assert export.headers["Content-Disposition"].startswith("attachment")
    assert MARK in export.get_data(as_text=True)
    unconfirmed = client.post(f"/admin/inquiries/{inquiry_id}/customer/erase", data={"csrf_token": csrf})
    assert unconfirmed.status_code == 303 and MARK in _all_text(app)
    done = client.post(f"/admin/inquiries/{inquiry_id}/customer/erase", data={"csrf_token": csrf, "confirm": "erase"})
    assert done.status_code == 303 and done.headers["Location"].endswith("/admin")
    assert MARK not in _all_text(app) and EMAIL not in _all_text(app)
    assert client.get(f"/admin/inquiries/{inquiry_id}").status_code == 404


def test_export_and_erase_through_the_admin_api(app, demo):
    _customer_with_two_products(app)
    with app.app_context():
        auth = {"Authorization": "Bearer " + admin_tokens.create(db.session.scalar(sa.select(User)), "privacy")}
    client = app.test_client()
    exported = client.get(f"/api/admin/customers/export?email={EMAIL}", headers=auth)
    assert exported.status_code == 200 and len(exported.get_json()["inquiries"]) == 2
    assert client.post("/api/admin/customers/erase", json={}, headers=auth).status_code == 422
    missing = client.post("/api/admin/customers/erase", json={"email": "nobody@example.com"}, headers=auth)
    assert missing.status_code == 404
    erased = client.post("/api/admin/customers/erase", json={"email": EMAIL}, headers=auth)
    assert erased.get_json()["erased"]["inquiries"] == 2
    assert MARK not in _all_text(app)


def test_export_and_erase_from_the_command_line(app, runner, demo):
    inquiry_id, _ = _customer_with_two_products(app)
    exported = runner.invoke(args=["chat", "export-customer", "--inquiry", str(inquiry_id)])
    assert exported.exit_code == 0 and len(json.loads(exported.output)["inquiries"]) == 2
    refused = runner.invoke(args=["chat", "erase-customer", "--email", EMAIL], input="n\n")
    assert refused.exit_code != 0 and MARK in _all_text(app)
    erased = runner.invoke(args=["chat", "erase-customer", "--email", EMAIL, "--yes"])
    assert erased.exit_code == 0 and "Erased 2 conversation(s)" in erased.output
    assert MARK not in _all_text(app)
    assert runner.invoke(args=["chat", "export-customer", "--email", EMAIL]).exit_code != 0


def test_purge_deletes_only_old_finished_conversations(app, runner, demo):
    pid = first_product_id(app)
    with app.app_context():
        ids = {}
        for name, status, age_days in [
            ("old-resolved", "resolved", 400),
            ("old-closed", "closed", 366),
            ("old-pending", "pending", 400),
            ("new-resolved", "resolved", 10),
        ]:
            message = conversations.send_customer_message(pid, name + "-" + "z" * 20, f"{name} {MARK}").message
            inquiry = db.session.get(ProductInquiry, message.inquiry_id)
            inquiry.status = status
            db.session.commit()
            db.session.execute(
                sa.update(ProductInquiry)
                .where(ProductInquiry.id == inquiry.id)
                .values(updated_at=utcnow() - timedelta(days=age_days))
            )
            db.session.commit()
            ids[name] = inquiry.id
    result = runner.invoke(args=["chat", "purge"])
    assert result.exit_code == 0 and "Purged 2 inquiries" in result.output
    with app.app_context():
        left = set(db.session.scalars(sa.select(ProductInquiry.id)))
        texts = db.session.scalars(sa.select(ProductMessage.message_text)).all()
    assert left == {ids["old-pending"], ids["new-resolved"]}
    assert not any("old-resolved" in t or "old-closed" in t for t in texts)
    assert "Purged 0 inquiries" in runner.invoke(args=["chat", "purge"]).output  # safe to run again
    assert runner.invoke(args=["chat", "purge", "--days", "5"]).output.startswith("Purged 1 ")


def test_logs_carry_no_message_text_or_email(app, demo, caplog):
    caplog.set_level(logging.INFO)
    inquiry_id, _ = _customer_with_two_products(app)
    with app.app_context():
        from chat.mail import deliver_due

        app.config.update(MAIL_SERVER="127.0.0.1", MAIL_PORT=9, MAIL_MAX_ATTEMPTS=1)  # nothing listens: it fails
        deliver_due(now=utcnow() + timedelta(days=1))
        privacy.erase(privacy.find_customer(inquiry_id=inquiry_id))
    logged = "\n".join(r.getMessage() for r in caplog.records if r.levelno >= logging.INFO)
    assert "given up" in logged and "erased a customer" in logged
    assert MARK not in logged and EMAIL not in logged and not re.search(r"\S+@\S+\.\w+", logged)
