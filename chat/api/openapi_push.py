"""OpenAPI entries for Web Push subscriptions (chat/api/admin_push.py).

Kept beside the main document (chat/api/openapi.py merges PATHS and SCHEMAS).
"""

from .openapi import ID, json_body, op, path_id, ref

# A subscription belongs to a login session (ending the session removes it): no API tokens.
SESSION_WRITE = [{"adminSession": [], "csrfToken": []}]
BASE64URL = {"type": "string", "pattern": "^[A-Za-z0-9_-]+={0,2}$"}

SCHEMAS = {
    "PushSubscriptionInput": {
        "type": "object",
        "required": ["endpoint", "keys"],
        "description": "The browser's `PushSubscription.toJSON()`, as `pushManager.subscribe()` gave it "
        "(with the application server key from the panel's `data-push-key`).",
        "properties": {
            "endpoint": {
                "type": "string",
                "format": "uri",
                "maxLength": 2000,
                "description": "The push service's URL: https and a public address "
                "(unless PUSH_ALLOW_PRIVATE_ENDPOINTS, for tests and development).",
            },
            "keys": {
                "type": "object",
                "required": ["p256dh", "auth"],
                "properties": {
                    "p256dh": dict(BASE64URL, description="The browser's P-256 public key (65 bytes)."),
                    "auth": dict(BASE64URL, description="The browser's authentication secret (16 bytes)."),
                },
            },
            "expirationTime": {"type": ["number", "null"], "description": "Ignored."},
            "show_text": {
                "type": "boolean",
                "default": False,
                "description": 'This device\'s "Show message text in notifications": false pushes only '
                '"New message about <product>".',
            },
        },
    },
    "PushSubscriptionCreated": {"type": "object", "required": ["id"], "properties": {"id": ID}},
}

PATHS = {
    "/api/admin/push-subscriptions": {
        "post": op(
            "Push new questions and customer messages to this browser (its PushSubscription).",
            tag="push",
            security=SESSION_WRITE,
            body=json_body(ref("PushSubscriptionInput"), "The browser's PushSubscription JSON."),
            ok={201: ("Subscribed (the same endpoint again updates its subscription).", "PushSubscriptionCreated")},
            errors=(400, 401, 403, 422),
            description="The subscription belongs to the calling login session: logging out (or any end of the "
            "session) removes it. 403 for an API token, which has no device to push to.",
        ),
    },
    "/api/admin/push-subscriptions/{subscription_id}": {
        "delete": op(
            "Stop pushing to that device.",
            tag="push",
            security=SESSION_WRITE,
            params=[path_id("subscription_id", "push subscription")],
            ok={204: ("Removed.", None)},
            errors=(400, 401, 404),
        ),
    },
}
