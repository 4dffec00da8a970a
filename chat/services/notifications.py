"""Which emails to send, queued in the outbox (see chat/mail.py for sending).

Mails are queued inside the transaction that causes them, or by the periodic
scan (`flask chat notify`); the outbox's unique dedupe_key makes each event
queue at most one mail per recipient.
"""

import re
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, render_template
from flask_babel import force_locale, gettext
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError

from .. import clock, links
from ..extensions import db
from ..i18n import ADMIN_LANGUAGES, DEFAULT, clean
from ..models import OutboxEmail, ProductInquiry, ProductMessage, User, utcnow
from . import access, hours, reply_addresses, shoppers

URGENT_WORDS = re.compile(r"\b(urgent|asap|immediately|broken|damaged|refund|wrong item|never arrived)\b", re.I)


def sounds_urgent(text):
    return bool(URGENT_WORDS.search(text or ""))


def _admin_recipients(inquiry):
    """The assignee, else every active person who works on the inquiry's site (access.py decides)."""
    site_id = inquiry.product.site_id
    if inquiry.assigned_admin_id:
        admin = db.session.get(User, inquiry.assigned_admin_id)
        if admin is not None and access.can(admin, "inquiries", site_id):
            return [admin]
    return sorted((a for a in access.members_of(site_id) if access.can(a, "inquiries", site_id)), key=lambda a: a.id)


def queue_mail(dedupe_key, to_addr, subject, template, **context):
    """Queue a mail that is about no inquiry; see ``_queue``."""
    return _queue(dedupe_key, to_addr, subject, template, **context)


def _queue(dedupe_key, to_addr, subject, template, inquiry=None, reply_to=None, **context):
    """Add one mail to the outbox unless the same key is queued already.

    ``reply_to``: the inquiry's reply address for this recipient (reply_addresses.py),
    so the recipient can answer by replying; the text then says so.
    """
    exists = db.session.scalar(sa.select(OutboxEmail.id).filter_by(dedupe_key=dedupe_key))
    if exists:
        return None
    context.update(inquiry=inquiry, reply_by_mail=bool(reply_to))
    mail = OutboxEmail(
        dedupe_key=dedupe_key,
        to_addr=to_addr,
        subject=subject,
        inquiry_id=inquiry.id if inquiry else None,
        reply_to=reply_to,
        body_text=render_template(f"email/{template}.txt", **context),
        body_html=render_template(f"email/{template}.html", **context),
    )
    db.session.add(mail)
    return mail


def admin_link(inquiry):
    return links.external("admin.inquiry_page", inquiry_id=inquiry.id)


def queue_high_priority(inquiry, text):
    """A new (or newly raised) high-priority inquiry: tell the assignee or every admin.

    Past ``CHAT_URGENT_MAILS_PER_HOUR`` urgent mails to one admin in the last
    hour, the rest go into one digest for the hour (no message text in it),
    so a flood of "urgent" questions cannot flood anyone's inbox.
    """
    limit = current_app.config["CHAT_URGENT_MAILS_PER_HOUR"]
    since = utcnow() - timedelta(hours=1)
    for admin in _admin_recipients(inquiry):
        recent = db.session.scalar(
            sa.select(sa.func.count(OutboxEmail.id)).where(
                OutboxEmail.to_addr == admin.email,
                OutboxEmail.dedupe_key.like("high:%"),
                OutboxEmail.created_at >= since,
            )
        )
        if recent >= limit:
            _add_to_digest(admin, inquiry)
            continue
        with force_locale(_panel_language(admin)):
            _queue(
                f"high:{inquiry.id}:{admin.id}",
                admin.email,
                gettext("Urgent question about %(product)s", product=inquiry.product.name),
                "admin_urgent",
                inquiry=inquiry,
                reply_to=reply_addresses.for_admin(inquiry, admin),
                text=text,
                link=admin_link(inquiry),
            )


def _panel_language(admin):
    """An admin's mails speak the panel's language they chose (else English: no browser to ask)."""
    return clean(admin.language, ADMIN_LANGUAGES) or DEFAULT


def _add_to_digest(admin, inquiry):
    """One mail per admin and hour listing further urgent inquiries; sent when the hour ends.

    A mail has one Reply-To, so each item names its own reply address instead. In the
    admin's panel language, as each of their mails.
    """
    with force_locale(_panel_language(admin)):
        _add_digest_item(admin, inquiry)


def _add_digest_item(admin, inquiry):
    now = utcnow()
    hour = now.replace(minute=0, second=0, microsecond=0)
    key = f"digest:{admin.id}:{hour:%Y%m%d%H}"
    reply_to = reply_addresses.for_admin(inquiry, admin)
    name, link = inquiry.product.name, admin_link(inquiry)
    if reply_to:
        line = "- " + gettext(
            "%(product)s: %(link)s (answer by email: %(reply_to)s)", product=name, link=link, reply_to=reply_to
        )
    else:
        line = "- " + gettext("%(product)s: %(link)s", product=name, link=link)
    html_line = Markup(render_template("email/_digest_item.html", inquiry=inquiry, link=link, reply_to=reply_to))
    digest = db.session.scalar(sa.select(OutboxEmail).filter_by(dedupe_key=key))
    if digest is None or digest.sent_at is not None:
        if digest is not None:
            return  # this hour's digest went out already; the list page shows the rest
        digest = _queue(
            key,
            admin.email,
            gettext("More urgent questions"),
            "admin_digest",
            hour=hour,
            first_line=line,
            first_html=html_line,
        )
        digest.next_attempt_at = hour + timedelta(hours=1)
        return
    digest.body_text = digest.body_text.rstrip("\n") + "\n" + line
    digest.body_html = digest.body_html.replace("</ul>", str(html_line) + "</ul>")
    count = digest.body_text.count("\n- ")
    digest.subject = gettext("More urgent questions (%(num)s)", num=count)


def unanswered_due(inquiry, now, minutes):
    """Has the customer waited ``minutes`` of the shop's business hours? (Always open: wall-clock minutes.)

    Business hours and this reminder: a question asked on Friday at 22:00 in a
    shop open 09:00-17:00 on weekdays is reminded about on Monday at 09:30
    (with 30 minutes), not at 22:30 while nobody is there to answer. Urgent
    questions (``queue_high_priority``) are mailed at once, open or not: the
    admins asked for them, and "urgent" is the customer's word, not the clock's.
    """
    waited = hours.Hours.of(inquiry.product.site).open_seconds(inquiry.waiting_since, now)
    return waited >= minutes * 60


def scan(now=None):
    """Queue mails for inquiries waiting too long (in business hours) and answers left unread. Returns how many."""
    now = now or clock.now()
    config = current_app.config
    queued = 0
    waiting_limit = now - timedelta(minutes=config["NOTIFY_UNANSWERED_MINUTES"])
    waiting = db.session.scalars(
        sa.select(ProductInquiry)
        .where(
            ProductInquiry.waiting_since.is_not(None),
            ProductInquiry.waiting_since <= waiting_limit,
            sa.or_(
                ProductInquiry.notified_waiting_since.is_(None),
                ProductInquiry.notified_waiting_since != ProductInquiry.waiting_since,
            ),
        )
        .order_by(ProductInquiry.waiting_since)
        .limit(500)
    ).all()
    for inquiry in waiting:
        # The wall clock picked the candidates (business time never runs faster); the shop's hours decide.
        if not unanswered_due(inquiry, now, config["NOTIFY_UNANSWERED_MINUTES"]):
            continue
        stamp = inquiry.waiting_since.strftime("%Y%m%d%H%M%S%f")
        for admin in _admin_recipients(inquiry):
            with force_locale(_panel_language(admin)):
                queued_one = _queue(
                    f"unanswered:{inquiry.id}:{stamp}:{admin.id}",
                    admin.email,
                    gettext("Unanswered question about %(product)s", product=inquiry.product.name),
                    "admin_unanswered",
                    inquiry=inquiry,
                    reply_to=reply_addresses.for_admin(inquiry, admin),
                    link=admin_link(inquiry),
                    minutes=int((now - inquiry.waiting_since).total_seconds() // 60),
                )
            if queued_one:
                queued += 1
        inquiry.notified_waiting_since = inquiry.waiting_since

    unread_limit = now - timedelta(minutes=config["NOTIFY_CUSTOMER_UNREAD_MINUTES"])
    answers = db.session.execute(
        sa.select(ProductMessage, ProductInquiry)
        .join(ProductInquiry, ProductMessage.inquiry_id == ProductInquiry.id)
        .where(
            ProductMessage.sender_type == "admin",
            ProductMessage.message_type == "text",
            ProductMessage.is_read.is_(False),
            ProductMessage.created_at <= unread_limit,
            ProductMessage.created_at >= now - timedelta(days=7),
            ProductInquiry.customer_email.is_not(None),
            ProductInquiry.email_consent_at.is_not(None),
        )
        .order_by(ProductMessage.id)
        .limit(500)
    ).all()
    for message, inquiry in answers:
        link = links.resume_link(inquiry)
        # In the language the shopper chatted in (their shopper row keeps it).
        shopper = shoppers.find(inquiry.session_id)
        with force_locale(clean(shopper.language if shopper else None) or DEFAULT):
            queued_one = _queue(
                f"answer:{message.id}",
                inquiry.customer_email,
                gettext("The shop answered your question about %(product)s", product=inquiry.product.name),
                "customer_answer",
                inquiry=inquiry,
                reply_to=reply_addresses.for_customer(inquiry),
                message=message,
                link=link,
            )
        if queued_one:
            queued += 1
    try:
        db.session.commit()
    except IntegrityError:
        # Another scanner queued the same mails first: theirs stand.
        db.session.rollback()
        return 0
    return queued


def queue_webhook_disabled(endpoint):
    """A webhook endpoint was disabled: tell the admins of its site (every admin for an
    endpoint of all sites), once per disabling."""
    stamp = endpoint.disabled_at.strftime("%Y%m%d%H%M%S%f")
    link = links.external("admin.webhook_page", endpoint_id=endpoint.id)
    # Webhooks are the owners' (access.py): the owners who see the endpoint's site (all, for every site).
    owners = [a for a in access.members_of(endpoint.site_id) if access.has_role(a, "webhooks")]
    if endpoint.site_id is None:
        owners = [a for a in owners if a.all_sites]
    for admin in sorted(owners, key=lambda a: a.id):
        with force_locale(_panel_language(admin)):
            _queue(
                f"webhook-disabled:{endpoint.id}:{stamp}:{admin.id}",
                admin.email,
                gettext("A webhook endpoint was disabled"),
                "admin_webhook_disabled",
                endpoint=endpoint,
                link=link,
            )
