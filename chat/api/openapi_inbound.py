"""OpenAPI entry for the inbound mail webhook (chat/api/inbound.py).

Kept beside the main document (chat/api/openapi.py merges PATHS, SCHEMAS and
SECURITY_SCHEMES).
"""

from ..services import mail_in
from .openapi import ID, op

SECURITY_SCHEMES = {
    "inboundSecret": {
        "type": "http",
        "scheme": "bearer",
        "description": "INBOUND_EMAIL_SECRET, as the mail provider's inbound webhook is set up to send it.",
    }
}
SCHEMAS = {
    "InboundResult": {
        "type": "object",
        "required": ["outcome", "inquiry_id", "message_id"],
        "properties": {
            "outcome": {
                "enum": list(mail_in.OUTCOMES),
                "description": "answer: the admin's answer; follow_up: the shopper's message; duplicate: "
                "this Message-ID was handled before (nothing new stored); anything else: dropped, and "
                "why (automatic and loop silently, the others with a short mail to the sender).",
            },
            "inquiry_id": {"type": ["integer", "null"], "minimum": 1, "maximum": ID["maximum"]},
            "message_id": {"type": ["integer", "null"], "minimum": 1, "maximum": ID["maximum"]},
        },
    }
}

_inbound = op(
    "A reply mail from the mail provider's inbound webhook.",
    tag="inbound",
    security=[{"inboundSecret": []}],
    ok={202: ("Taken: what became of it (a dropped mail is taken too: do not send it again).", "InboundResult")},
    errors=(400, 401, 404),
    body={
        "required": True,
        "description": "The mail as received, raw MIME (RFC 5322), at most INBOUND_EMAIL_MAX_BYTES.",
        "content": {"message/rfc822": {"schema": {"type": "string", "format": "binary"}}},
    },
    description="A reply to reply+<token>@MAIL_REPLY_DOMAIN becomes the admin's answer or the shopper's "
    "follow-up in its inquiry when the token and the sender check out; see README, 'Answer by email'.",
)
for _status, _text in {
    "400": "An empty body.",
    "401": "No `Authorization: Bearer <INBOUND_EMAIL_SECRET>`, or another secret.",
    "404": "Mail-in is off: MAIL_REPLY_DOMAIN or INBOUND_EMAIL_SECRET is not set.",
    "413": "The mail is larger than INBOUND_EMAIL_MAX_BYTES (chunked bodies too).",
}.items():
    _inbound["responses"][_status] = dict(_inbound["responses"][_status], description=_text)

PATHS = {"/api/inbound/email": {"post": _inbound}}
