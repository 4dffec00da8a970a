"""Admin API for webhook endpoints: list, create (the secret answered once), change, delete,
rotate the secret, the delivery log, a test event and redelivery.

Routes on the admin API blueprint (chat/api/admin.py): its authentication (bearer
token, or login session with CSRF) and errors. The panel's page calls the same service.
"""

from flask import jsonify
from flask_babel import gettext

from ..inputs import json_object
from ..services import ValidationError, webhooks
from .admin import bp, current_admin
from .serializers import iso


def endpoint_dict(endpoint):
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "events": endpoint.event_list,
        "site": endpoint.site.public_id if endpoint.site else None,
        "enabled": endpoint.disabled_at is None,
        "disabled_at": iso(endpoint.disabled_at),
        "disabled_reason": endpoint.disabled_reason,  # as stored: stable for scripts
        "disabled_reason_text": webhooks.disabled_reason_text(endpoint.disabled_reason)
        if endpoint.disabled_reason
        else None,  # the same, in the request's language (Accept-Language)
        "failing_since": iso(endpoint.failing_since),
        "previous_secret_valid_until": iso(endpoint.previous_secret_until),
        "created_at": iso(endpoint.created_at),
        "updated_at": iso(endpoint.updated_at),
    }


def delivery_dict(delivery):
    return {
        "id": delivery.id,
        "webhook_id": delivery.webhook_id,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "created_at": iso(delivery.created_at),
        "next_attempt_at": iso(delivery.next_attempt_at) if delivery.status == "pending" else None,
        "delivered_at": iso(delivery.delivered_at),
        "failed_at": iso(delivery.failed_at),
        "last_status_code": delivery.last_status_code,
        "last_response_ms": delivery.last_response_ms,
        "last_error": delivery.last_error,
        "redelivery_of": delivery.redelivery_of,
        "payload": delivery.payload,
        "attempt_log": [
            {
                "started_at": iso(a.started_at),
                "status_code": a.status_code,
                "response_ms": a.response_ms,
                "error": a.error,
            }
            for a in delivery.attempt_log
        ],
    }


def _enabled(data):
    value = data.get("enabled")
    if value is not None and not isinstance(value, bool):
        raise ValidationError(gettext("enabled must be true or false."), {"enabled": gettext("a boolean")})
    return value


@bp.get("/webhooks")
def admin_list_webhooks():
    """Every webhook endpoint (never its secret)."""
    return jsonify(webhooks=[endpoint_dict(e) for e in webhooks.all_endpoints(current_admin())])


@bp.post("/webhooks")
def admin_create_webhook():
    """A new endpoint (201); the answer carries its ``secret``, which is never shown again."""
    data = json_object()
    endpoint, secret = webhooks.create(current_admin(), data.get("url"), data.get("events"), data.get("site"))
    return jsonify(endpoint_dict(endpoint) | {"secret": secret}), 201


@bp.get("/webhooks/<id:endpoint_id>")
def admin_get_webhook(endpoint_id):
    return jsonify(endpoint_dict(webhooks.get(endpoint_id)))


@bp.put("/webhooks/<id:endpoint_id>")
def admin_update_webhook(endpoint_id):
    """Change ``url``, ``events``, ``site`` or ``enabled``; fields left out stay as they are."""
    data = json_object()
    webhooks.get(endpoint_id)
    values = {name: data[name] for name in ("url", "events", "site") if name in data}
    return jsonify(endpoint_dict(webhooks.update(endpoint_id, enabled=_enabled(data), admin=current_admin(), **values)))


@bp.delete("/webhooks/<id:endpoint_id>")
def admin_delete_webhook(endpoint_id):
    webhooks.delete(endpoint_id)
    return "", 204


@bp.post("/webhooks/<id:endpoint_id>/rotate-secret")
def admin_rotate_webhook_secret(endpoint_id):
    """A new secret, answered once; the old one signs too until ``previous_secret_valid_until``."""
    endpoint, secret = webhooks.rotate_secret(endpoint_id)
    return jsonify(endpoint_dict(endpoint) | {"secret": secret})


@bp.get("/webhooks/<id:endpoint_id>/deliveries")
def admin_webhook_deliveries(endpoint_id):
    """The endpoint's latest deliveries, newest first, each with its attempts."""
    endpoint = webhooks.get(endpoint_id)
    return jsonify(deliveries=[delivery_dict(d) for d in webhooks.deliveries(endpoint)])


@bp.post("/webhooks/<id:endpoint_id>/test")
def admin_test_webhook(endpoint_id):
    """Queue a ``webhook.test`` event for this endpoint (202: it is sent at once, in the background)."""
    return jsonify(delivery_dict(webhooks.send_test(endpoint_id))), 202


@bp.post("/webhooks/<id:endpoint_id>/deliveries/<id:delivery_id>/redeliver")
def admin_redeliver_webhook(endpoint_id, delivery_id):
    """Send a logged event again (same ``webhook-id`` and body) as a new delivery (202)."""
    return jsonify(delivery_dict(webhooks.redeliver(endpoint_id, delivery_id))), 202
