"""OpenAPI entries for webhooks: the endpoints' API (chat/api/admin_webhooks.py) and, in the
document's ``webhooks`` section, every event we send and its payload.

Kept beside the main document (chat/api/openapi.py merges PATHS, SCHEMAS and WEBHOOKS).
"""

from ..models import INQUIRY_STATUSES, PRIORITIES, RATINGS, WEBHOOK_DELIVERY_STATES, WEBHOOK_EVENTS
from .openapi import (
    ADMIN_READ,
    ADMIN_WRITE,
    ID,
    NULLABLE_ID,
    NULLABLE_TIMESTAMP,
    TIMESTAMP,
    json_body,
    op,
    path_id,
    ref,
)

ENDPOINT = path_id("endpoint_id", "webhook endpoint")
DELIVERY = path_id("delivery_id", "delivery")
NULLABLE_TEXT = {"type": ["string", "null"]}
EVENTS = {
    "type": "array",
    "items": {"enum": list(WEBHOOK_EVENTS)},
    "minItems": 1,
    "description": "The events this endpoint receives (webhook.test is sent on request, whatever these are).",
}
SITE = {
    "type": ["string", "null"],
    "description": "A site's public id: only that site's events; null: every site's.",
}
SIGNING = (
    "Every request is a POST with a JSON body, signed per the Standard Webhooks specification: "
    "`webhook-id` (the event's id: the same on every retry; use it to process an event once), "
    "`webhook-timestamp` (this attempt's Unix time in seconds) and `webhook-signature` "
    '(`v1,<base64 HMAC-SHA256 of "<webhook-id>.<webhook-timestamp>.<body>">` keyed with the base64-decoded '
    "part of the endpoint's `whsec_` secret; during a secret rotation's overlap two signatures, space-separated, "
    "one per secret). Answer with a 2xx within 10 seconds; anything else is retried with the same `webhook-id`. "
    "Events of one inquiry arrive in order."
)

SCHEMAS = {
    "WebhookEndpoint": {
        "type": "object",
        "required": ["id", "url", "events", "site", "enabled", "created_at"],
        "properties": {
            "id": ID,
            "url": {"type": "string", "format": "uri"},
            "events": EVENTS,
            "site": SITE,
            "enabled": {"type": "boolean", "description": "false: nothing is sent (see disabled_reason)."},
            "disabled_at": NULLABLE_TIMESTAMP,
            "disabled_reason": dict(
                NULLABLE_TEXT, description="Why it was disabled, as stored (stable: match on it in scripts)."
            ),
            "disabled_reason_text": dict(
                NULLABLE_TEXT, description="The same reason for people, in the request's language (Accept-Language)."
            ),
            "failing_since": dict(
                NULLABLE_TIMESTAMP,
                description="The first failed attempt since the last success; failing for 3 days disables it.",
            ),
            "previous_secret_valid_until": dict(
                NULLABLE_TIMESTAMP, description="After a rotation: the old secret signs too until then."
            ),
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
        },
    },
    "WebhookEndpointWithSecret": {
        "allOf": [
            ref("WebhookEndpoint"),
            {
                "type": "object",
                "required": ["secret"],
                "properties": {
                    "secret": {
                        "type": "string",
                        "pattern": "^whsec_[A-Za-z0-9+/]+=*$",
                        "description": "The signing secret, shown only in this answer: keep it.",
                    }
                },
            },
        ]
    },
    "WebhookEndpointList": {
        "type": "object",
        "required": ["webhooks"],
        "properties": {"webhooks": {"type": "array", "items": ref("WebhookEndpoint")}},
    },
    "WebhookEndpointInput": {
        "type": "object",
        "properties": {
            "url": {
                "type": "string",
                "maxLength": 500,
                "description": "https:// on a public address (plain http and private addresses only with "
                "WEBHOOK_ALLOW_PRIVATE=true); no user name, password or fragment.",
            },
            "events": EVENTS,
            "site": SITE,
            "enabled": {"type": "boolean", "description": "PUT only: true enables a disabled endpoint again."},
        },
        "description": "POST needs url and events (site defaults to every site); PUT changes what it names.",
    },
    "WebhookAttempt": {
        "type": "object",
        "required": ["started_at", "status_code", "response_ms", "error"],
        "properties": {
            "started_at": TIMESTAMP,
            "status_code": {"type": ["integer", "null"]},
            "response_ms": {"type": ["integer", "null"]},
            "error": NULLABLE_TEXT,
        },
    },
    "WebhookDelivery": {
        "type": "object",
        "required": ["id", "webhook_id", "event_type", "status", "attempts", "created_at", "payload", "attempt_log"],
        "properties": {
            "id": ID,
            "webhook_id": {"type": "string", "description": "The webhook-id header of every attempt."},
            "event_type": {"enum": [*WEBHOOK_EVENTS, "webhook.test"]},
            "status": {
                "enum": list(WEBHOOK_DELIVERY_STATES),
                "description": "pending (first try or retrying), delivered (a 2xx), failed (given up).",
            },
            "attempts": {"type": "integer", "minimum": 0},
            "created_at": TIMESTAMP,
            "next_attempt_at": NULLABLE_TIMESTAMP,
            "delivered_at": NULLABLE_TIMESTAMP,
            "failed_at": NULLABLE_TIMESTAMP,
            "last_status_code": {"type": ["integer", "null"]},
            "last_response_ms": {"type": ["integer", "null"]},
            "last_error": NULLABLE_TEXT,
            "redelivery_of": dict(NULLABLE_ID, description="The delivery this one sends again."),
            "payload": {"type": "string", "description": "The exact body sent."},
            "attempt_log": {"type": "array", "items": ref("WebhookAttempt")},
        },
    },
    "WebhookDeliveryList": {
        "type": "object",
        "required": ["deliveries"],
        "properties": {"deliveries": {"type": "array", "items": ref("WebhookDelivery")}},
    },
    # -- payloads ----------------------------------------------------------------------
    "WebhookProduct": {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "external_id", "name"],
        "properties": {"id": ID, "external_id": {"type": "string"}, "name": {"type": "string"}},
    },
    "WebhookInquiry": {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "site", "product", "status", "priority", "assigned_admin_id", "customer_email"],
        "properties": {
            "id": ID,
            "site": {"type": "string", "description": "The site's public id."},
            "product": ref("WebhookProduct"),
            "status": {"enum": list(INQUIRY_STATUSES)},
            "priority": {"enum": list(PRIORITIES)},
            "assigned_admin_id": NULLABLE_ID,
            "customer_email": dict(NULLABLE_TEXT, description="The address the customer left, if any."),
            "created_at": TIMESTAMP,
            "admin_url": {"type": "string", "format": "uri", "description": "The inquiry in the admin panel."},
        },
    },
    "WebhookMessage": {
        "type": "object",
        "additionalProperties": False,
        "required": ["id", "inquiry_id", "sender_type", "sender_name", "text", "created_at"],
        "properties": {
            "id": ID,
            "inquiry_id": ID,
            "sender_type": {"enum": ["customer", "admin"]},
            "sender_name": dict(
                NULLABLE_TEXT,
                description="For answers, the name customers see (the admin's public name or the shop's); "
                "null for the customer.",
            ),
            "text": {"type": "string"},
            "created_at": TIMESTAMP,
        },
    },
}


def _payload(event_type, data_properties, description):
    """A request body schema: Standard Webhooks' envelope around ``data``."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"const": event_type},
            "timestamp": dict(TIMESTAMP, description="When the event happened (the attempt's time is a header)."),
            "data": {
                "type": "object",
                "additionalProperties": False,
                "required": list(data_properties),
                "properties": data_properties,
            },
        },
        "description": description,
    }


def _change(values):
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["from", "to"],
        "properties": {"from": values, "to": values},
    }


PAYLOADS = {
    "inquiry.created": _payload(
        "inquiry.created", {"inquiry": ref("WebhookInquiry")}, "A customer's first message opened a conversation."
    ),
    "message.created": _payload(
        "message.created",
        {"message": ref("WebhookMessage"), "inquiry": ref("WebhookInquiry")},
        "A customer's message or the shop's answer. Private notes and workflow lines are never sent.",
    ),
    "inquiry.updated": _payload(
        "inquiry.updated",
        {
            "inquiry": ref("WebhookInquiry"),
            "changes": {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 1,
                "additionalProperties": False,
                "properties": {
                    "status": _change({"enum": list(INQUIRY_STATUSES)}),
                    "priority": _change({"enum": list(PRIORITIES)}),
                    "assignee": _change(NULLABLE_ID),
                },
            },
        },
        "The status (an admin's change, a first answer, a customer reopening it), the priority or the "
        "assignee changed; `changes` says which, from what to what.",
    ),
    "rating.created": _payload(
        "rating.created",
        {
            "inquiry": ref("WebhookInquiry"),
            "rating": {
                "type": "object",
                "additionalProperties": False,
                "required": ["rating", "comment", "rated_at"],
                "properties": {"rating": {"enum": list(RATINGS)}, "comment": NULLABLE_TEXT, "rated_at": TIMESTAMP},
            },
        },
        "The customer rated the answer of a resolved inquiry (rating again sends another).",
    ),
    "question.published": _payload(
        "question.published",
        {
            "question": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "site", "product", "question", "answer", "created_at"],
                "properties": {
                    "id": ID,
                    "site": {"type": "string"},
                    "product": ref("WebhookProduct"),
                    "question": {"type": "string"},
                    "answer": {"type": "string"},
                    "created_at": TIMESTAMP,
                },
            }
        },
        "An admin published a question and answer on a product page.",
    ),
    "webhook.test": _payload(
        "webhook.test",
        {"endpoint_id": ID, "text": {"type": "string"}},
        'Sent by "Send test event" (panel or API) to one endpoint.',
    ),
}


def _webhook(event_type, schema):
    return {
        "post": {
            "summary": f"{event_type}: {schema['description']}",
            "description": SIGNING,
            "tags": ["webhooks"],
            "parameters": [
                {"name": "webhook-id", "in": "header", "required": True, "schema": {"type": "string"}},
                {"name": "webhook-timestamp", "in": "header", "required": True, "schema": {"type": "string"}},
                {"name": "webhook-signature", "in": "header", "required": True, "schema": {"type": "string"}},
            ],
            "requestBody": {"required": True, "content": {"application/json": {"schema": schema}}},
            "responses": {
                "2XX": {"description": "Received: not sent again."},
                "410": {"description": "Gone: the endpoint is disabled and its site's admins are mailed."},
                "default": {"description": "Anything else (or no answer within 10 s): retried with backoff."},
            },
        }
    }


WEBHOOKS = {event_type: _webhook(event_type, schema) for event_type, schema in PAYLOADS.items()}

PATHS = {
    "/api/admin/webhooks": {
        "get": op(
            "Every webhook endpoint (never a secret).",
            tag="webhooks",
            security=ADMIN_READ,
            ok={200: ("The endpoints.", "WebhookEndpointList")},
            errors=(401,),
        ),
        "post": op(
            "Add a webhook endpoint; the answer holds its secret, shown only this once.",
            tag="webhooks",
            security=ADMIN_WRITE,
            body=json_body(ref("WebhookEndpointInput"), "url and events; site (null or left out: every site)."),
            ok={201: ("Created.", "WebhookEndpointWithSecret")},
            errors=(400, 401, 422),
        ),
    },
    "/api/admin/webhooks/{endpoint_id}": {
        "get": op(
            "One webhook endpoint.",
            tag="webhooks",
            security=ADMIN_READ,
            params=[ENDPOINT],
            ok={200: ("The endpoint.", "WebhookEndpoint")},
            errors=(401, 404),
        ),
        "put": op(
            "Change the URL, events, site or enabled; what is left out stays.",
            tag="webhooks",
            security=ADMIN_WRITE,
            params=[ENDPOINT],
            body=json_body(ref("WebhookEndpointInput"), "The fields to change."),
            ok={200: ("Changed.", "WebhookEndpoint")},
            errors=(400, 401, 404, 422),
        ),
        "delete": op(
            "Remove the endpoint and its log.",
            tag="webhooks",
            security=ADMIN_WRITE,
            params=[ENDPOINT],
            ok={204: ("Removed.", None)},
            errors=(400, 401, 404),
        ),
    },
    "/api/admin/webhooks/{endpoint_id}/rotate-secret": {
        "post": op(
            "A new secret (shown only this once); the old one signs too for WEBHOOK_SECRET_OVERLAP_HOURS (24).",
            tag="webhooks",
            security=ADMIN_WRITE,
            params=[ENDPOINT],
            ok={200: ("Rotated.", "WebhookEndpointWithSecret")},
            errors=(400, 401, 404),
        ),
    },
    "/api/admin/webhooks/{endpoint_id}/deliveries": {
        "get": op(
            "The endpoint's delivery log: the latest 50 deliveries, newest first, with their attempts.",
            tag="webhooks",
            security=ADMIN_READ,
            params=[ENDPOINT],
            ok={200: ("The log.", "WebhookDeliveryList")},
            errors=(401, 404),
        ),
    },
    "/api/admin/webhooks/{endpoint_id}/test": {
        "post": op(
            "Send the endpoint a webhook.test event (at once, in the background).",
            tag="webhooks",
            security=ADMIN_WRITE,
            params=[ENDPOINT],
            ok={202: ("Queued.", "WebhookDelivery")},
            errors=(400, 401, 404),
        ),
    },
    "/api/admin/webhooks/{endpoint_id}/deliveries/{delivery_id}/redeliver": {
        "post": op(
            "Send a logged event again, with the same webhook-id and body, as a new delivery.",
            tag="webhooks",
            security=ADMIN_WRITE,
            params=[ENDPOINT, DELIVERY],
            ok={202: ("Queued.", "WebhookDelivery")},
            errors=(400, 401, 404),
        ),
    },
}
