"""What webhooks say: one delivery row per event and endpoint, written in the event's transaction.

The services call these functions where the change happens (``conversations``,
``inquiries``, ``ratings``, ``questions``); each writes a ``WebhookDelivery`` for
every enabled endpoint of the inquiry's site (or of every site) that takes the
event, in the same transaction, so a committed event is never lost, and a
rolled-back one is never sent. After the commit the rows are handed to
``chat.webhook_delivery`` to be sent at once; the worker sends what that misses.

Payloads (documented in ``chat/api/openapi_webhooks.py``) carry what the shop's
admins of that site see, less what the shop keeps to itself: only public
messages (never private notes or workflow lines), answers under the admin's
public name (never an account name or email), no session ids.
"""

import json
import secrets

import sqlalchemy as sa
from flask import current_app

from .. import after_commit, links
from ..extensions import db
from ..models import ProductInquiry, WebhookDelivery, WebhookEndpoint, utcnow

_KIND = "webhooks"


def _iso(value):
    return value.isoformat(timespec="milliseconds") + "Z" if value is not None else None


def new_webhook_id():
    return "msg_" + secrets.token_urlsafe(18)


def _endpoints_for(event_type, site_id):
    rows = db.session.scalars(
        sa.select(WebhookEndpoint)
        .where(
            WebhookEndpoint.disabled_at.is_(None),
            sa.or_(WebhookEndpoint.site_id.is_(None), WebhookEndpoint.site_id == site_id),
        )
        .order_by(WebhookEndpoint.id)
    ).all()
    return [endpoint for endpoint in rows if event_type in endpoint.event_list]


def body(event_type, data, when=None):
    """The request body: Standard Webhooks' ``{"type", "timestamp", "data"}``, compact JSON."""
    envelope = {"type": event_type, "timestamp": _iso(when or utcnow()), "data": data}
    return json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)


def _emit(event_type, site_id, make_data, inquiry=None):
    """Queue the event for every endpoint that takes it; ``make_data()`` is called only if one does."""
    endpoints = _endpoints_for(event_type, site_id)
    if not endpoints:
        return []
    if inquiry is not None:
        # Events of one inquiry get their ids in commit order: a second transaction on
        # the inquiry waits here for the first to commit (ids order its deliveries).
        db.session.flush()
        db.session.execute(sa.select(ProductInquiry.id).where(ProductInquiry.id == inquiry.id).with_for_update())
    payload = body(event_type, make_data())
    webhook_id = new_webhook_id()
    rows = [
        WebhookDelivery(
            endpoint_id=endpoint.id,
            webhook_id=webhook_id,
            event_type=event_type,
            inquiry_id=inquiry.id if inquiry is not None else None,
            payload=payload,
        )
        for endpoint in endpoints
    ]
    db.session.add_all(rows)
    db.session.flush()
    for row in rows:
        send_after_commit(row)
    return rows


def send_after_commit(delivery):
    """Hand the (flushed) delivery to the sender once this transaction commits."""
    after_commit.defer(db.session, _KIND, (delivery.id, delivery.endpoint_id))


# -- the payloads' parts ---------------------------------------------------------


def inquiry_data(inquiry):
    product = inquiry.product
    return {
        "id": inquiry.id,
        "site": product.site.public_id,
        "product": {"id": product.id, "external_id": product.external_id, "name": product.name},
        "status": inquiry.status,
        "priority": inquiry.priority,
        "assigned_admin_id": inquiry.assigned_admin_id,
        "customer_email": inquiry.customer_email,
        "created_at": _iso(inquiry.created_at),
        "admin_url": links.external("admin.inquiry_page", inquiry_id=inquiry.id),
    }


def message_data(message):
    return {
        "id": message.id,
        "inquiry_id": message.inquiry_id,
        "sender_type": message.sender_type,
        # Customers see this name under answers; account names stay inside the panel.
        "sender_name": message.public_sender_name,
        "text": message.message_text,
        "created_at": _iso(message.created_at),
    }


# -- the events --------------------------------------------------------------------


def inquiry_created(inquiry):
    return _emit("inquiry.created", inquiry.product.site_id, lambda: {"inquiry": inquiry_data(inquiry)}, inquiry)


def message_created(message, inquiry):
    """A customer's message or the shop's answer; private notes and workflow lines never."""
    if message.message_type != "text" or message.visibility != "public":
        return []
    return _emit(
        "message.created",
        inquiry.product.site_id,
        lambda: {"message": message_data(message), "inquiry": inquiry_data(inquiry)},
        inquiry,
    )


def inquiry_updated(inquiry, field, before, after):
    """``field`` (status, priority or assignee) changed from ``before`` to ``after``."""
    return _emit(
        "inquiry.updated",
        inquiry.product.site_id,
        lambda: {"inquiry": inquiry_data(inquiry), "changes": {field: {"from": before, "to": after}}},
        inquiry,
    )


def rating_created(inquiry):
    return _emit(
        "rating.created",
        inquiry.product.site_id,
        lambda: {
            "inquiry": inquiry_data(inquiry),
            "rating": {"rating": inquiry.rating, "comment": inquiry.rating_comment, "rated_at": _iso(inquiry.rated_at)},
        },
        inquiry,
    )


def question_published(entry):
    product = entry.product

    def data():
        return {
            "question": {
                "id": entry.id,
                "site": product.site.public_id,
                "product": {"id": product.id, "external_id": product.external_id, "name": product.name},
                "question": entry.question,
                "answer": entry.answer,
                "created_at": _iso(entry.created_at),
            }
        }

    return _emit("question.published", product.site_id, data)


def test_event(endpoint):
    """A ``webhook.test`` delivery for one endpoint (the panel's "Send test event")."""
    delivery = WebhookDelivery(
        endpoint_id=endpoint.id,
        webhook_id=new_webhook_id(),
        event_type="webhook.test",
        ordered=False,
        payload=body(
            "webhook.test",
            {"endpoint_id": endpoint.id, "text": "A test event from Product chat: the signature checks out."},
        ),
    )
    db.session.add(delivery)
    db.session.flush()
    send_after_commit(delivery)
    return delivery


# -- after commit: send ---------------------------------------------------------------


def _send_written(written):
    if current_app.config.get("WEBHOOK_DELIVER_AT_ONCE"):
        from .. import webhook_delivery

        by_endpoint = {}
        for delivery_id, endpoint_id in written:
            by_endpoint.setdefault(endpoint_id, []).append(delivery_id)
        for ids in by_endpoint.values():
            webhook_delivery.send_soon(current_app._get_current_object(), ids)


def register():
    after_commit.on_commit(_KIND, _send_written)
