"""Webhook endpoints: where a shop's systems hear of events, for one site or for all of them.

A secret (Standard Webhooks: ``whsec_`` and 32 random bytes in base64) is made
with the endpoint and returned once, by ``create`` and by ``rotate_secret``;
nothing reads it back to a person afterwards. After a rotation the old secret
signs too for ``WEBHOOK_SECRET_OVERLAP_HOURS``, so receivers can switch without
losing a request. The panel and the JSON API both call these functions.
"""

import base64
import re
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext, lazy_gettext

from .. import outbound
from ..extensions import db
from ..models import WEBHOOK_EVENTS, WebhookDelivery, WebhookEndpoint, utcnow
from . import access, audit, sites, webhook_events
from .errors import NotFound, ValidationError

SECRET_PREFIX = "whsec_"
MAX_URL = 500
EVENT_LABELS = {
    "inquiry.created": lazy_gettext("A new conversation"),
    "message.created": lazy_gettext("A message from the customer or the shop (never private notes)"),
    "inquiry.updated": lazy_gettext("Status, priority or assignee changed"),
    "rating.created": lazy_gettext("The customer rated an answer"),
    "question.published": lazy_gettext("A question and answer published on a product"),
}
# Why an endpoint was disabled, as stored (the API shows it as is); the panel and the
# mails say it in the reader's language (``disabled_reason_text``).
GONE, TURNED_OFF = "the endpoint answered 410 Gone", "turned off by an admin"
_FAILED_FOR = re.compile(r"every attempt failed for (\S+) hours")


def failed_for(hours):
    return f"every attempt failed for {hours:g} hours"


def disabled_reason_text(reason):
    """A stored reason in the page's (or mail's) language; one we do not know, as stored."""
    if reason == GONE:
        return gettext("the endpoint answered 410 Gone")
    if reason == TURNED_OFF:
        return gettext("turned off by an admin")
    failed = _FAILED_FOR.fullmatch(reason or "")
    if failed:
        return gettext("every attempt failed for %(hours)s hours", hours=failed.group(1))
    return reason or ""


LOG_PAGE = 50


def new_secret():
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def clean_url(value, field="url"):
    """A URL we may call (see ``chat.outbound.check_url``), or a 422 saying why not."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(gettext("Give the endpoint's URL (https://...)."), {field: gettext("required")})
    value = value.strip()
    if len(value) > MAX_URL:
        raise ValidationError(
            gettext("The URL can be at most %(max)s characters.", max=MAX_URL),
            {field: gettext("at most %(max)s", max=MAX_URL)},
        )
    try:
        outbound.check_url(value, current_app.config["WEBHOOK_ALLOW_PRIVATE"])
    except outbound.Refused as refused:
        text = gettext("The URL %(problem)s.", problem=str(refused))
        raise ValidationError(text, {field: text}) from None
    return value


def clean_events(value, field="events"):
    """A non-empty list of event names from ``WEBHOOK_EVENTS``, in their order."""
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
        raise ValidationError(
            gettext("Choose at least one event."), {field: gettext("Choose at least one event (a list of names).")}
        )
    unknown = sorted(set(value) - set(WEBHOOK_EVENTS))
    if unknown:
        raise ValidationError(
            gettext(
                "Unknown event %(event)s: use %(events)s.", event=repr(unknown[0]), events=", ".join(WEBHOOK_EVENTS)
            ),
            {field: gettext("unknown: %(event)s", event=unknown[0])},
        )
    return [name for name in WEBHOOK_EVENTS if name in value]


def clean_site(value, field="site", admin=None):
    """None (every site) or the Site with this public id (one of ``admin``'s sites, when given)."""
    if value in (None, ""):
        if admin is not None and access.visible_site_ids(admin) is not None:
            raise ValidationError(
                gettext("Choose one of your sites."), {field: gettext("one of your sites (not every site)")}
            )
        return None
    site = sites.find(value) if isinstance(value, str) else None
    if site is None or (admin is not None and not access.sees_site(admin, site.id)):
        raise ValidationError(
            gettext("No such site."), {field: gettext("unknown site (a site's public id, or null for every site)")}
        )
    return site


def _checked(url, events, site, admin=None):
    """All three fields checked at once, so one 422 names every bad one."""
    fields, cleaned = {}, []
    for clean, value in ((clean_url, url), (clean_events, events), (lambda v: clean_site(v, admin=admin), site)):
        try:
            cleaned.append(clean(value))
        except ValidationError as error:
            fields.update(error.fields)
            cleaned.append(None)
    if fields:
        raise ValidationError(gettext("Please check the %(fields)s.", fields=gettext(" and the ").join(fields)), fields)
    return cleaned


def create(admin, url, events, site=None):
    """A new endpoint; returns (endpoint, secret). The secret is not shown again."""
    url, events, site = _checked(url, events, site, admin)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        url=url,
        events=" ".join(events),
        site_id=site.id if site else None,
        secret=secret,
        created_by=admin.id if admin else None,
    )
    db.session.add(endpoint)
    db.session.flush()
    audit.record("webhook.created", "webhook", endpoint.id, f"{url} ({' '.join(events)})")
    db.session.commit()
    return endpoint, secret


KEEP = object()


def update(endpoint_id, url=KEEP, events=KEEP, site=KEEP, enabled=None, admin=None):
    """Change the URL, events or site (what is not given stays); ``enabled=True`` turns a
    disabled endpoint back on, ``False`` turns it off."""
    endpoint = get(endpoint_id)
    url, events, new_site = _checked(
        endpoint.url if url is KEEP else url,
        endpoint.event_list if events is KEEP else events,
        (endpoint.site.public_id if endpoint.site else None) if site is KEEP else site,
        admin,
    )
    endpoint.url, endpoint.events, endpoint.site_id = url, " ".join(events), new_site.id if new_site else None
    if enabled is True and endpoint.disabled_at is not None:
        endpoint.disabled_at = endpoint.disabled_reason = endpoint.failing_since = None
    elif enabled is False and endpoint.disabled_at is None:
        endpoint.disabled_at, endpoint.disabled_reason = utcnow(), TURNED_OFF
    endpoint.updated_at = utcnow()
    state = "disabled" if endpoint.disabled_at else "enabled"
    audit.record("webhook.changed", "webhook", endpoint.id, f"{endpoint.url} ({endpoint.events}); {state}")
    db.session.commit()
    return endpoint


def delete(endpoint_id):
    """Remove the endpoint with its log; nothing more is sent to it."""
    endpoint = get(endpoint_id)
    audit.record("webhook.deleted", "webhook", endpoint.id, endpoint.url)
    db.session.delete(endpoint)
    db.session.commit()


def rotate_secret(endpoint_id):
    """A new secret (returned once); the old one signs too for WEBHOOK_SECRET_OVERLAP_HOURS."""
    endpoint = get(endpoint_id)
    hours = current_app.config["WEBHOOK_SECRET_OVERLAP_HOURS"]
    secret = new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = utcnow() + timedelta(hours=hours)
    endpoint.secret = secret
    audit.record("webhook.secret_rotated", "webhook", endpoint.id, endpoint.url)
    db.session.commit()
    return endpoint, secret


def get(endpoint_id):
    endpoint = db.session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(gettext("No such webhook endpoint."), {"webhook_id": gettext("unknown endpoint")})
    return endpoint


def all_endpoints(admin=None):
    """Every endpoint, or those ``admin`` may see: of their sites (every-site ones: every-site people)."""
    query = sa.select(WebhookEndpoint).order_by(WebhookEndpoint.id)
    ids = access.visible_site_ids(admin) if admin is not None else None
    if ids is not None:
        query = query.where(WebhookEndpoint.site_id.in_(ids or [-1]))
    return db.session.scalars(query).all()


def deliveries(endpoint, limit=LOG_PAGE):
    """The endpoint's log: its latest deliveries, newest first, with their attempts."""
    return db.session.scalars(
        sa.select(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id)
        .options(sa.orm.selectinload(WebhookDelivery.attempt_log))
        .order_by(WebhookDelivery.id.desc())
        .limit(limit)
    ).all()


def send_test(endpoint_id):
    """Queue a ``webhook.test`` event for this endpoint alone (sent at once, whatever its events)."""
    endpoint = get(endpoint_id)
    delivery = webhook_events.test_event(endpoint)
    db.session.commit()
    return delivery


def redeliver(endpoint_id, delivery_id):
    """Send a logged event again, with the same ``webhook-id`` and body, as a new delivery
    outside the per-inquiry order (it is a repeat of something already sent or given up)."""
    endpoint = get(endpoint_id)
    original = db.session.get(WebhookDelivery, delivery_id)
    if original is None or original.endpoint_id != endpoint.id:
        raise NotFound(gettext("No such delivery."), {"delivery_id": gettext("unknown delivery")})
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id,
        webhook_id=original.webhook_id,
        event_type=original.event_type,
        inquiry_id=original.inquiry_id,
        ordered=False,
        payload=original.payload,
        redelivery_of=original.id,
    )
    db.session.add(delivery)
    db.session.flush()
    webhook_events.send_after_commit(delivery)
    db.session.commit()
    return delivery
