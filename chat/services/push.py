"""Web Push to the admins' phones and desktops: subscriptions, who is pushed, and what.

- **Subscriptions** belong to the admin session that made them (``subscribe``):
  ending the session deletes them (a foreign key with ``ON DELETE CASCADE``), so
  logout, "log out everywhere", deactivation and a password change stop the pushes
  to those devices. The endpoint must be one we may call (``outbound.check_url``:
  https and public, unless ``PUSH_ALLOW_PRIVATE_ENDPOINTS``).
- **Who** is pushed: ``recipients_for(inquiry, event)``, the one place that decides
  (active admins for whom the inquiry is unassigned or assigned to them), then each
  admin's preferences (which events, quiet hours in the site's time zone).
- **What**: a new question, and a customer's message on an inquiry waiting for us;
  urgent (high priority) ones with ``Urgency: high``. The text follows the device's
  "Show message text in notifications": off, only "New message about <product>".
- **When**: one ``PushDelivery`` row per subscription, written in the transaction of
  the message; after the commit ``chat.push_delivery`` sends it (the worker sends
  what that misses, and every retry).
"""

import base64
import binascii
import hashlib
import json
from collections import namedtuple
from datetime import UTC
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import force_locale, gettext, lazy_gettext

from .. import after_commit, links, outbound
from ..extensions import db
from ..i18n import ADMIN_LANGUAGES, DEFAULT, clean
from ..models import PUSH_EVENTS, PushDelivery, PushPreference, PushSubscription, utcnow
from . import access, admin_sessions, hours
from .errors import Forbidden, NotFound, ValidationError

_KIND = "push"
PREVIEW_LENGTH = 160
MAX_ENDPOINT_LENGTH = 2000
EVENT_NAMES = {
    "new_question": lazy_gettext("New questions"),
    "customer_message": lazy_gettext("Customer messages on waiting inquiries"),
}


# -- subscriptions -------------------------------------------------------------------


def _b64url(value, field, length):
    """The bytes of a base64url key (padding optional), which must be ``length`` bytes long."""
    if not isinstance(value, str) or not value or len(value) > 200:
        raise ValidationError(
            f"keys.{field} must be the browser's base64url key.", {f"keys.{field}": gettext("missing")}
        )
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except (binascii.Error, ValueError):
        raise ValidationError(f"keys.{field} is not base64url.", {f"keys.{field}": gettext("not base64url")}) from None
    if len(raw) != length or (field == "p256dh" and raw[0] != 4):
        raise ValidationError(
            f"keys.{field} is not a key of the right kind.", {f"keys.{field}": f"{length} bytes expected"}
        )
    return value.rstrip("=")


def _endpoint(value):
    if not isinstance(value, str) or not value or len(value) > MAX_ENDPOINT_LENGTH:
        raise ValidationError(gettext("endpoint must be the push service's URL."), {"endpoint": gettext("a URL")})
    try:
        outbound.check_url(value, current_app.config["PUSH_ALLOW_PRIVATE_ENDPOINTS"])
    except outbound.Refused as refused:
        raise ValidationError(
            gettext("The push endpoint %(problem)s.", problem=str(refused)),
            {"endpoint": str(refused)},
        ) from None
    return value


def endpoint_hash(endpoint):
    return hashlib.sha256(endpoint.encode()).hexdigest()


def subscribe(user, data, user_agent=None, _again=True):
    """Store the browser's ``PushSubscription`` JSON (``endpoint``, ``keys.p256dh``,
    ``keys.auth``; ``show_text`` optional) for ``user``'s current session; returns the row.

    The same endpoint again (a renewed subscription, another admin logging in on that
    browser) updates its row, which then belongs to this session. Raises
    ``ValidationError`` (bad input) or ``Forbidden`` (no login session: API tokens
    have no device to push to).
    """
    if getattr(user, "admin_session_id", None) is None:
        raise Forbidden(gettext("Push subscriptions belong to a login session: subscribe from the admin panel."))
    if not isinstance(data, dict):
        raise ValidationError(gettext("Send the browser's PushSubscription as a JSON object."))
    endpoint = _endpoint(data.get("endpoint"))
    keys = data.get("keys")
    if not isinstance(keys, dict):
        raise ValidationError(
            gettext("keys must hold p256dh and auth."), {"keys": gettext("an object with p256dh and auth")}
        )
    p256dh = _b64url(keys.get("p256dh"), "p256dh", 65)
    auth = _b64url(keys.get("auth"), "auth", 16)
    show_text = data.get("show_text", False)
    if not isinstance(show_text, bool):
        raise ValidationError(gettext("show_text must be true or false."), {"show_text": gettext("a boolean")})
    key = endpoint_hash(endpoint)
    row = db.session.scalar(sa.select(PushSubscription).filter_by(endpoint_hash=key))
    if row is None:
        row = PushSubscription(endpoint_hash=key, endpoint=endpoint)
        db.session.add(row)
    row.user_id, row.admin_session_id = user.id, user.admin_session_id
    row.p256dh, row.auth, row.show_text = p256dh, auth, show_text
    row.user_agent = (user_agent or "")[:200] or None
    try:
        db.session.commit()
    except sa.exc.IntegrityError:
        # The same browser subscribed twice at once: the other request's row stands; take it over.
        db.session.rollback()
        if not _again:
            raise
        return subscribe(user, data, user_agent, _again=False)
    return row


def unsubscribe(user, subscription_id):
    """Remove one of ``user``'s subscriptions; 404 if it is not theirs (or gone already)."""
    done = db.session.execute(
        sa.delete(PushSubscription).where(PushSubscription.id == subscription_id, PushSubscription.user_id == user.id)
    ).rowcount
    db.session.commit()
    if not done:
        raise NotFound(
            gettext("That device is not subscribed (any more)."), {"subscription": gettext("unknown or removed")}
        )


DeviceInfo = namedtuple("DeviceInfo", "id browser created_at last_pushed_at current show_text")


def subscriptions_of(user):
    """The admin's subscribed devices, newest first, for the account page."""
    rows = db.session.scalars(
        sa.select(PushSubscription)
        .where(PushSubscription.user_id == user.id)
        .order_by(PushSubscription.created_at.desc(), PushSubscription.id.desc())
    ).all()
    current = getattr(user, "admin_session_id", None)
    return [
        DeviceInfo(
            row.id,
            admin_sessions.describe_browser(row.user_agent),
            row.created_at,
            row.last_pushed_at,
            row.admin_session_id == current,
            row.show_text,
        )
        for row in rows
    ]


def ids_of_this_session(user):
    """The ids of the subscriptions made in ``user``'s current login session (the Notifications menu)."""
    session_id = getattr(user, "admin_session_id", None)
    if session_id is None:
        return []
    return db.session.scalars(
        sa.select(PushSubscription.id).where(PushSubscription.admin_session_id == session_id)
    ).all()


# -- preferences ------------------------------------------------------------------------


def preferences_of(user):
    """The admin's push preferences (the defaults, unsaved, when they chose none)."""
    found = db.session.get(PushPreference, user.id)
    return found or PushPreference(user_id=user.id, events=" ".join(PUSH_EVENTS))


def _minutes(value, field):
    """``"HH:MM"`` as minutes after midnight; empty: None."""
    if value in (None, ""):
        return None
    text = value.strip() if isinstance(value, str) else ""
    hour, _, minute = text.partition(":")
    if not (hour.isdigit() and minute.isdigit() and len(minute) == 2 and int(hour) < 24 and int(minute) < 60):
        raise ValidationError(gettext("Give quiet hours as HH:MM, such as 22:00."), {field: gettext("HH:MM")})
    return int(hour) * 60 + int(minute)


def set_preferences(user, events, quiet_start=None, quiet_end=None):
    """Save which events push to ``user``'s devices and their quiet hours (``"HH:MM"`` each,
    both or neither). Raises ``ValidationError``."""
    if not isinstance(events, list) or not all(isinstance(name, str) for name in events):
        raise ValidationError(gettext("events must be a list."), {"events": gettext("a list")})
    unknown = sorted(set(events) - set(PUSH_EVENTS))
    if unknown:
        raise ValidationError(
            gettext("Unknown event %(event)s.", event=repr(unknown[0])),
            {"events": gettext("one of %(names)s", names=", ".join(PUSH_EVENTS))},
        )
    start, end = _minutes(quiet_start, "quiet_start"), _minutes(quiet_end, "quiet_end")
    if (start is None) != (end is None) or (start is not None and start == end):
        raise ValidationError(
            gettext("Give quiet hours a start and a different end, or leave both empty."),
            {"quiet_start" if start is None else "quiet_end": gettext("both or neither")},
        )
    found = db.session.get(PushPreference, user.id)
    if found is None:
        found = PushPreference(user_id=user.id)
        db.session.add(found)
    found.events = " ".join(name for name in PUSH_EVENTS if name in events)
    found.quiet_start, found.quiet_end = start, end
    db.session.commit()
    return found


def is_quiet(preference, site, now):
    """Whether ``now`` (naive UTC) falls in the admin's quiet hours, in the site's time zone."""
    if preference.quiet_start is None or preference.quiet_end is None:
        return False
    local = now.replace(tzinfo=UTC).astimezone(hours.Hours.of(site).tz)
    minute = local.hour * 60 + local.minute
    start, end = preference.quiet_start, preference.quiet_end
    return start <= minute < end if start < end else minute >= start or minute < end


def format_minutes(value):
    return "" if value is None else f"{value // 60:02d}:{value % 60:02d}"


# -- who is pushed, and what -------------------------------------------------------------


def recipients_for(inquiry, event):
    """The admins to push about ``event`` on ``inquiry``: every active person of its site
    while it is unassigned, only its assignee once assigned (while they still work on the
    site). The one place that decides; access.py says who works where."""
    site_id = inquiry.product.site_id
    if inquiry.assigned_admin_id is not None:
        # The relationship (one read by key, as get) keeps the row: the list's live record names them.
        assignee = inquiry.assigned_admin
        return [assignee] if assignee is not None and access.can(assignee, "inquiries", site_id) else []
    # members_of(site_id) holds only people who see the site: their role is what is left to ask
    # (access.can would load each site-bound person's sites again).
    return sorted((a for a in access.members_of(site_id) if access.has_role(a, "inquiries")), key=lambda a: a.id)


def payload(inquiry, message, event, show_text):
    """What the service worker receives (JSON): the notification's title, body, tag and link."""
    product = inquiry.product.name
    if event == "new_question":
        title = gettext("New question about %(product)s", product=product)
    else:
        title = gettext("New message about %(product)s", product=product)
    body = ""
    if show_text:
        text = (message.message_text or "").strip()
        body = text if len(text) <= PREVIEW_LENGTH else text[: PREVIEW_LENGTH - 1] + "…"
    return {
        "title": title,
        "body": body,
        "tag": f"inquiry-{inquiry.id}",
        "inquiry_id": inquiry.id,
        "message_id": message.id,
        # A path: the service worker opens it on the origin it serves (ours).
        "url": urlsplit(links.external("admin.inquiry_page", inquiry_id=inquiry.id)).path,
        "urgent": inquiry.priority == "high",
    }


def queue_for_message(message, inquiry, first):
    """A customer's message was stored (flushed): queue a push to every device that should hear
    of it, in this transaction. Returns the rows."""
    if message.sender_type != "customer" or inquiry.waiting_since is None:
        return []
    event = "new_question" if first else "customer_message"
    now = utcnow()
    rows = []
    recipients = recipients_for(inquiry, event)
    # Every recipient's devices in one query (most people have none): preferences are
    # read only for the people who have one.
    devices = {}
    if recipients:
        for subscription in db.session.scalars(
            sa.select(PushSubscription)
            .where(PushSubscription.user_id.in_([admin.id for admin in recipients]))
            .order_by(PushSubscription.user_id, PushSubscription.id)
        ):
            devices.setdefault(subscription.user_id, []).append(subscription)
    for admin in recipients:
        if admin.id not in devices:
            continue
        preference = preferences_of(admin)
        if event not in preference.event_list or is_quiet(preference, inquiry.product.site, now):
            continue
        for subscription in devices[admin.id]:
            with force_locale(clean(admin.language, ADMIN_LANGUAGES) or DEFAULT):  # their panel's language
                text = json.dumps(payload(inquiry, message, event, subscription.show_text), ensure_ascii=False)
            rows.append(
                PushDelivery(
                    subscription_id=subscription.id,
                    inquiry_id=inquiry.id,
                    message_id=message.id,
                    event=event,
                    urgent=inquiry.priority == "high",
                    payload=text,
                )
            )
    if rows:
        db.session.add_all(rows)
        db.session.flush()
        for row in rows:
            after_commit.defer(db.session, _KIND, row.id)
    return rows


def send_test(user, subscription_id):
    """Queue a test push to one of ``user``'s devices (the Account page's "Send a test");
    404 if it is not theirs. Sent right after the commit, like any push."""
    subscription = db.session.scalar(
        sa.select(PushSubscription).where(PushSubscription.id == subscription_id, PushSubscription.user_id == user.id)
    )
    if subscription is None:
        raise NotFound(
            gettext("That device is not subscribed (any more)."), {"subscription": gettext("unknown or removed")}
        )
    account = urlsplit(links.external("admin.account")).path
    note = {
        "title": gettext("Test notification from Product chat"),
        "body": gettext("Pushes reach this device."),
        "tag": "product-chat-test",
        "url": account,
        "urgent": False,
    }
    row = PushDelivery(subscription_id=subscription.id, event="test", payload=json.dumps(note, ensure_ascii=False))
    db.session.add(row)
    db.session.flush()
    after_commit.defer(db.session, _KIND, row.id)
    db.session.commit()
    return row


# -- after commit: send ------------------------------------------------------------------


def _send_written(written):
    if current_app.config.get("PUSH_DELIVER_AT_ONCE"):
        from .. import push_delivery

        push_delivery.send_soon(current_app._get_current_object(), written)


def register():
    after_commit.on_commit(_KIND, _send_written)
