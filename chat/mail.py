"""Sending the outbox over SMTP: outside any request, retried, never twice.

A worker claims a row with a conditional UPDATE (so two workers never take
the same mail), sends it, and marks it sent. A failure puts the mail back with
a growing delay; after MAIL_MAX_ATTEMPTS it is marked failed, never dropped
silently. Each mail carries a stable Message-ID derived from its row, says it
was sent by a machine (``Auto-Submitted``, so auto-responders leave it alone) and
carries ``X-Loop`` and its ``Reply-To`` (chat/services/mail_in.py drops what comes
back with either of the first two).
"""

import logging
import smtplib
from datetime import timedelta
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid

import sqlalchemy as sa
from flask import current_app

from .extensions import db
from .models import OutboxEmail, utcnow
from .services import validation
from .services.errors import ServiceError

log = logging.getLogger(__name__)
CLAIM_SECONDS = 120
# The right-hand side of our Message-IDs: a mail coming in with one is ours coming back.
MESSAGE_ID_DOMAIN = "product-chat"


def loop_marker(config):
    """Our ``X-Loop`` value: the sender address of our mails."""
    return (getaddresses([config["MAIL_FROM"]])[0][1] or config["MAIL_FROM"]).strip().lower()


def _build(mail, config):
    """The mail as sent; ``To:`` is built from the one address the row holds (parsed again
    here, so a row written before addresses were checked cannot reach anyone else)."""
    message = EmailMessage()
    message["From"] = config["MAIL_FROM"]
    message["To"] = validation.mail_address(mail.to_addr)
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(idstring=f"outbox-{mail.id}", domain=MESSAGE_ID_DOMAIN)
    message["Date"] = formatdate(usegmt=True)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Loop"] = loop_marker(config)
    if mail.reply_to:
        message["Reply-To"] = mail.reply_to
    message.set_content(mail.body_text)
    if mail.body_html:
        message.add_alternative(mail.body_html, subtype="html")
    return message


def _smtp_send(message, config):
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=20) as smtp:
        if config["MAIL_USE_TLS"]:
            smtp.starttls()
        if config["MAIL_USERNAME"]:
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"] or "")
        # The envelope's one recipient is the parsed To: (never re-read from other headers).
        smtp.send_message(message, to_addrs=[message["To"].addresses[0].addr_spec])


def _claim(mail_id, now):
    claimed = db.session.execute(
        sa.update(OutboxEmail)
        .where(
            OutboxEmail.id == mail_id,
            OutboxEmail.sent_at.is_(None),
            sa.or_(OutboxEmail.claimed_until.is_(None), OutboxEmail.claimed_until < now),
        )
        .values(claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
    ).rowcount
    db.session.commit()
    return claimed == 1


def deliver_due(limit=50, now=None):
    """Send what is due; returns (sent, failed_now)."""
    config = current_app.config
    now = now or utcnow()
    due = db.session.scalars(
        sa.select(OutboxEmail.id)
        .where(
            OutboxEmail.sent_at.is_(None),
            OutboxEmail.failed_at.is_(None),
            OutboxEmail.next_attempt_at <= now,
            sa.or_(OutboxEmail.claimed_until.is_(None), OutboxEmail.claimed_until < now),
        )
        .order_by(OutboxEmail.id)
        .limit(limit)
    ).all()
    sent = failed = 0
    for mail_id in due:
        if not _claim(mail_id, now):
            continue  # another worker has it
        mail = db.session.get(OutboxEmail, mail_id)
        try:
            message = _build(mail, config)
        except (ValueError, ServiceError):
            # Not one address: no retry can help, and nothing is sent anywhere.
            mail.failed_at, mail.claimed_until, mail.last_error = now, None, "not one valid address"
            log.error("mail %s has no valid recipient: given up", mail.id)
            db.session.commit()
            failed += 1
            continue
        try:
            _smtp_send(message, config)
        except (OSError, smtplib.SMTPException) as exc:
            mail.attempts += 1
            mail.last_error = f"{type(exc).__name__}: {exc}"[:1000]
            mail.claimed_until = None
            if mail.attempts >= config["MAIL_MAX_ATTEMPTS"]:
                mail.failed_at = now
                # The id only: logs never carry addresses or message text.
                log.error("mail %s given up after %s attempts", mail.id, mail.attempts)
            else:
                mail.next_attempt_at = now + timedelta(seconds=min(3600, 30 * 2 ** (mail.attempts - 1)))
            failed += 1
        else:
            mail.sent_at = utcnow()
            mail.attempts += 1
            sent += 1
        db.session.commit()
    return sent, failed
