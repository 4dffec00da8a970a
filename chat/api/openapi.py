"""The JSON API described as OpenAPI 3.1, served at ``GET /api/openapi.json``.

A data module with a few helpers, not a generator library: the views read
their input by hand (``chat/inputs.py``), so there are no schemas to
introspect, and docstring YAML (apispec) would spread the document over the
views without checking it any better. ``tests/test_openapi.py`` keeps it
true: its paths and methods must equal the app's ``/api/`` routes (both
ways), and schemathesis calls every operation and fails on any status or
body the document does not list.

How to add an endpoint (say ``GET /api/catalog/products/<external:external_id>``):

1. Write the view as usual in its blueprint.
2. Add one entry to ``PATHS`` below, under its path with ``{name}`` for each
   ``<converter:name>``::

       "/api/catalog/products/{external_id}": {
           "get": op("One synced product.", tag="catalog", security=CATALOG,
                     params=[path_text("external_id")],
                     ok={200: ("The product.", "Product")},
                     errors=(401, 404)),
       },

   ``errors`` lists every error status the view can answer (503, a database
   outage, is added to all; 413 to every operation with a body). Shared
   schemas go in ``SCHEMAS``, a new kind of credential in ``SECURITY_SCHEMES``.
3. Run ``pytest tests/test_openapi.py``.
"""

import copy
import re

from flask import Blueprint, current_app, jsonify

from ..i18n import SHOPPER_LANGUAGES
from ..models import INQUIRY_STATUSES, PRIORITIES
from ..services.inquiries import ASSIGNEE_FILTERS, VIEWS
from ..services.validation import MAX_ID

bp = Blueprint("openapi", __name__)

# -- helpers -------------------------------------------------------------------

ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
NULLABLE_ID = {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_ID}
TIMESTAMP = {"type": "string", "format": "date-time", "description": "UTC, ISO 8601 with a Z"}
NULLABLE_TIMESTAMP = {"type": ["string", "null"], "format": "date-time"}


def ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(name):
    return {"oneOf": [ref(name), {"type": "null"}]}


def path_id(name, what):
    return {"name": name, "in": "path", "required": True, "description": f"The {what}'s id.", "schema": ID}


def query(name, schema, description):
    return {"name": name, "in": "query", "required": False, "description": description, "schema": schema}


def query_id(name, description, minimum=1):
    return query(name, dict(ID, minimum=minimum), description)


def json_body(schema, description, required=True):
    return {"required": required, "description": description, "content": {"application/json": {"schema": schema}}}


def send_body(json_schema, form_schema, description):
    """A send: JSON, or multipart/form-data with the same fields and up to five ``files``."""
    return {
        "required": True,
        "description": description,
        "content": {
            "application/json": {"schema": ref(json_schema)},
            "multipart/form-data": {
                "schema": ref(form_schema),
                "encoding": {"files": {"contentType": "image/*, application/pdf"}},
            },
        },
    }


ERRORS = {
    400: "Malformed input, named in `fields` where it is one parameter: a query value or body id that is not "
    "a whole number below 2^63, text that is not UTF-8, an unknown choice, malformed or too deeply nested "
    "JSON, a body that is not JSON, or (cookie callers) a missing CSRF token.",
    401: "No admin behind the request: log in, or send `Authorization: Bearer <token>`.",
    403: "Not allowed for this caller (their role does not allow it, or it needs every site).",
    404: "No such product, inquiry, conversation or customer (or an id in the path that is not one).",
    413: "The body is larger than MAX_CONTENT_LENGTH (chunked bodies too); for a multipart send, larger than "
    "CHAT_ATTACHMENTS_PER_MESSAGE files of CHAT_ATTACHMENT_MAX_BYTES, or one file is larger than "
    "CHAT_ATTACHMENT_MAX_BYTES (`fields` names it: `files[0]`, ...).",
    415: "A file is not a picture (JPEG, PNG, WebP, GIF, HEIC) or a PDF, judged by its bytes, never its name "
    "or declared type; `fields` names each (`files[0]`, ...).",
    422: "A field has a wrong type or value (empty, too long, NUL or lone surrogates, not an email, ...), "
    "too many files, or a picture that cannot be read or has more pixels than can be opened safely; "
    "`fields` names it.",
    409: "The conversation changed while this was stored; send it again (same `client_message_id`). "
    "Catalog: a product customers have conversations about is not deleted.",
    429: "Too many messages (or new conversations) from this client; wait `Retry-After` seconds. Files: "
    "past this session's hourly budget (CHAT_ATTACHMENT_FILES_PER_HOUR, CHAT_ATTACHMENT_BYTES_PER_HOUR), "
    "each file over it named in `fields`.",
    503: "The database cannot be reached; nothing was stored. Try again after `Retry-After` seconds.",
}
RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait.", "schema": {"type": "string"}}}
CHAT_SESSION_HEADER = {
    "X-Chat-Session": {
        "description": "The caller's signed session token; send it back in the X-Chat-Session header.",
        "schema": {"type": "string"},
    }
}


def op(summary, *, tag, security, ok, errors=(), params=(), body=None, description=None):
    """One operation. ``ok`` maps success statuses to (description, schema name, headers?)."""
    responses = {}
    for status, (text, schema, *headers) in ok.items():
        response = {"description": text}
        if schema is not None:
            response["content"] = {"application/json": {"schema": ref(schema)}}
        if headers:
            response["headers"] = headers[0]
        responses[str(status)] = response
    statuses = set(errors) | {503} | ({413} if body else set())
    for status in sorted(statuses):
        response = {"description": ERRORS[status], "content": {"application/json": {"schema": ref("Error")}}}
        if status in (429, 503):
            response["headers"] = RETRY_AFTER
        responses[str(status)] = response
    operation = {
        "summary": summary,
        "tags": [tag],
        "security": security,
        "parameters": list(params),
        "responses": responses,
    }
    if description:
        operation["description"] = description
    if body:
        operation["requestBody"] = body
    return operation


# -- who may call --------------------------------------------------------------

SECURITY_SCHEMES = {
    "chatSession": {
        "type": "apiKey",
        "in": "header",
        "name": "X-Chat-Session",
        "description": "The customer's signed session token. The first message without one starts "
        "a session and returns its token in this header. Needs no CSRF token.",
    },
    "chatCookie": {
        "type": "apiKey",
        "in": "cookie",
        "name": "chat_session",
        "description": "The same token in the HttpOnly cookie our own pages hold; unsafe methods "
        "then need the CSRF token too.",
    },
    "adminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token an admin created at /admin/tokens.",
    },
    "adminSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": "session",
        "description": "The admin panel's login session; unsafe methods need the CSRF token too.",
    },
    "siteKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "A site's API key (pcs_...), from /admin/sites or `flask chat create-site`.",
    },
    "csrfToken": {
        "type": "apiKey",
        "in": "header",
        "name": "X-CSRFToken",
        "description": 'The page\'s `<meta name="csrf-token">`, with a cookie session.',
    },
}
# Customers need no credentials at all: without any, a read is empty and a first message starts a session.
CUSTOMER_READ = [{}, {"chatSession": []}, {"chatCookie": []}]
CUSTOMER_WRITE = [{}, {"chatSession": []}, {"chatCookie": [], "csrfToken": []}]
ADMIN_READ = [{"adminToken": []}, {"adminSession": []}]
ADMIN_WRITE = [{"adminToken": []}, {"adminSession": [], "csrfToken": []}]
SITE_KEY = [{"siteKey": []}]
PUBLIC = [{}]

# -- schemas -------------------------------------------------------------------


FILES = {
    "type": "array",
    "maxItems": 5,
    "items": {"type": "string", "format": "binary"},
    "description": "Up to CHAT_ATTACHMENTS_PER_MESSAGE (5) files of at most CHAT_ATTACHMENT_MAX_BYTES (10 MB): "
    "JPEG, PNG, WebP, GIF (its first frame), HEIC (stored as JPEG) or PDF.",
}


def schemas(config):
    max_text = config["CHAT_MAX_MESSAGE_LENGTH"]
    message_text = {
        "type": "string",
        "minLength": 1,
        "maxLength": max_text,
        "pattern": "^[^\\x00]*\\S[^\\x00]*$",
        "description": f"At most {max_text} characters, not only spaces, no NUL.",
    }
    client_id = {
        "type": ["string", "null"],
        "format": "uuid",
        "description": "The client's id for this message (a UUID): sending it again returns the stored "
        "message with 200 instead of storing it twice.",
    }
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {"type": "string", "description": "What is wrong, for people."},
                "fields": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Field or parameter name: what is wrong with it.",
                },
            },
        },
        "Message": {
            "type": "object",
            "required": [
                "id",
                "inquiry_id",
                "sender_type",
                "sender_id",
                "sender_name",
                "message_text",
                "message_type",
                "is_read",
                "created_at",
                "client_message_id",
                "status",
                "delivered_at",
                "read_at",
                "attachments",
            ],
            "properties": {
                "id": ID,
                "inquiry_id": ID,
                "sender_type": {"enum": ["customer", "admin"]},
                "sender_id": dict(NULLABLE_ID, description="The answering admin (admins only: null for customers)."),
                "sender_name": {
                    "type": ["string", "null"],
                    "description": "Customers: the answering admin's public name, or the shop's "
                    "name. Admins: the admin's account name.",
                },
                "visibility": {
                    "enum": ["public", "internal"],
                    "description": "Admins only: internal rows (workflow notes) never reach customers.",
                },
                "message_text": {"type": "string"},
                "message_type": {
                    "enum": ["text", "system", "note"],
                    "description": "system: a workflow line (resolved, reopened, assigned, ...); "
                    "note: an admin's private note (admins only).",
                },
                "is_read": {"type": "boolean"},
                "created_at": TIMESTAMP,
                "client_message_id": {"type": ["string", "null"]},
                "status": {"enum": ["sent", "delivered", "read"]},
                "delivered_at": NULLABLE_TIMESTAMP,
                "read_at": NULLABLE_TIMESTAMP,
                "attachments": {
                    "type": "array",
                    "items": ref("Attachment"),
                    "description": "Files sent with the message, in order (empty when none).",
                },
            },
        },
        "Inquiry": {
            "type": "object",
            "required": [
                "id",
                "product_id",
                "session_id",
                "customer_email",
                "status",
                "priority",
                "created_at",
                "updated_at",
                "assigned_admin_id",
                "product_name",
                "message_count",
                "unread_count",
            ],
            "properties": {
                "id": ID,
                "product_id": ID,
                "session_id": {"type": "null", "description": "Never echoed: the signed token is the caller's own."},
                "customer_email": {"type": ["string", "null"]},
                "status": {"enum": list(INQUIRY_STATUSES)},
                "priority": {"enum": list(PRIORITIES)},
                "created_at": TIMESTAMP,
                "updated_at": TIMESTAMP,
                "assigned_admin_id": NULLABLE_ID,
                "product_name": {"type": ["string", "null"]},
                "message_count": {"type": "integer", "minimum": 0},
                "unread_count": {
                    "type": "integer",
                    "minimum": 0,
                    "description": "Messages from the other side the caller has not read.",
                },
            },
        },
        "AdminInquiry": {
            "allOf": [
                ref("Inquiry"),
                {
                    "type": "object",
                    "required": ["waiting_since", "last_message", "assigned_admin_name"],
                    "properties": {
                        "waiting_since": dict(
                            NULLABLE_TIMESTAMP, description="Since when the customer waits for an answer (null: not)."
                        ),
                        "last_message": nullable("Message"),
                        "assigned_admin_name": {"type": ["string", "null"]},
                        "rating": dict(
                            nullable("Rating"), description="The customer's rating once resolved (null: none)."
                        ),
                    },
                },
            ],
        },
        "Conversation": {
            "type": "object",
            "required": ["inquiry", "messages", "has_older"],
            "properties": {
                "inquiry": dict(nullable("Inquiry"), description="null before the caller's first message."),
                "messages": {"type": "array", "items": ref("Message"), "description": "Oldest first."},
                "has_older": {"type": "boolean", "description": "Older messages exist: ask with before=<first id>."},
            },
        },
        "ReadMarks": {
            "type": "object",
            "required": ["marked", "unread_count"],
            "properties": {
                "marked": {"type": "array", "items": ID, "description": "Newly read message ids."},
                "unread_count": {"type": "integer", "minimum": 0},
            },
        },
        "InquiryList": {
            "type": "object",
            "required": ["inquiries", "next_after"],
            "properties": {
                "inquiries": {"type": "array", "items": ref("AdminInquiry")},
                "next_after": {
                    "type": ["string", "null"],
                    "description": (
                        "Pass as after= for the next page. A search (q=) by common words looks at "
                        "5,000 conversations per page, so a page may hold fewer than limit (even none) "
                        "with next_after set: the search goes on from there."
                    ),
                },
            },
        },
        "InquiryDetail": {
            "type": "object",
            "required": ["inquiry", "messages", "has_older"],
            "properties": {
                "inquiry": ref("AdminInquiry"),
                "messages": {
                    "type": "array",
                    "items": ref("Message"),
                    "description": "Oldest first, internal notes included.",
                },
                "has_older": {"type": "boolean"},
            },
        },
        "Attachment": {
            "type": "object",
            "required": ["id", "filename", "content_type", "size", "width", "height", "url", "thumbnail_url"],
            "properties": {
                "id": ID,
                "filename": {
                    "type": "string",
                    "description": "The sender's file name (their text: show it escaped), with the extension "
                    "of what is stored.",
                },
                "content_type": {"enum": ["image/jpeg", "image/png", "image/webp", "application/pdf"]},
                "size": {"type": "integer", "minimum": 1, "description": "Bytes, as stored."},
                "width": {"type": ["integer", "null"], "description": "Pictures: pixels, upright."},
                "height": {"type": ["integer", "null"]},
                "url": {
                    "type": "string",
                    "format": "uri",
                    "description": "A signed URL of the file, valid for CHAT_ATTACHMENT_URL_SECONDS (900), for this "
                    "caller only: the conversation's shopper, or (admin URLs) a logged-in admin or API token.",
                },
                "thumbnail_url": {
                    "type": ["string", "null"],
                    "format": "uri",
                    "description": "Pictures: at most 480 pixels on the long side. PDFs: null.",
                },
            },
        },
        "CustomerMessageForm": {
            "type": "object",
            "properties": {
                "message_text": dict(
                    message_text, minLength=0, pattern="^[^\\x00]*$", description="Optional when files are sent."
                ),
                "client_message_id": {"type": "string", "format": "uuid"},
                "files": FILES,
                "customer_email": {"type": "string", "maxLength": 254},
                "email_consent": {"enum": ["true", "false"]},
            },
        },
        "AdminAnswerForm": {
            "type": "object",
            "properties": {
                "message_text": dict(
                    message_text, minLength=0, pattern="^[^\\x00]*$", description="Optional when files are sent."
                ),
                "client_message_id": {"type": "string", "format": "uuid"},
                "files": FILES,
            },
        },
        "CustomerMessage": {
            "type": "object",
            "required": ["message_text"],
            "dependentSchemas": {
                "customer_email": {"properties": {"email_consent": {"const": True}}, "required": ["email_consent"]}
            },
            "properties": {
                "message_text": message_text,
                "sender_type": {
                    "enum": ["customer"],
                    "default": "customer",
                    "description": '"admin" is refused with 403: the shop answers through the admin API.',
                },
                "client_message_id": client_id,
                "customer_email": {
                    "type": ["string", "null"],
                    "maxLength": 254,
                    "pattern": "^\\s*[^@\\s\\x00]+@[^@\\s\\x00]+\\.[^@\\s\\x00]+\\s*$",
                    "description": "Stored for follow-up by email; needs email_consent: true.",
                },
                "email_consent": {"type": "boolean"},
                "session_id": {
                    "type": ["string", "null"],
                    "description": "Optional: the caller's own session token (the seed's style); "
                    "any other is refused with 403.",
                },
            },
        },
        "ReadRequest": {
            "type": "object",
            "properties": {
                "message_ids": {
                    "type": "array",
                    "maxItems": 500,
                    "items": ID,
                    "description": "Only these; all of the shop's messages when left out.",
                }
            },
        },
        "AdminAnswer": {
            "type": "object",
            "required": ["message_text"],
            "properties": {
                "message_text": message_text,
                "client_message_id": client_id,
                "admin_id": dict(ID, description="Optional, and only the caller's own id."),
            },
        },
        "Product": {
            "type": "object",
            "required": [
                "id",
                "external_id",
                "site",
                "name",
                "description",
                "price",
                "currency",
                "image_url",
                "page_url",
                "stock",
                "synced_at",
                "created_at",
                "updated_at",
            ],
            "properties": {
                "id": ID,
                "external_id": {"type": "string"},
                "site": {"type": "string"},
                "name": {"type": "string"},
                "description": {"type": "string"},
                "price": {"type": ["string", "null"], "pattern": "^[0-9]+\\.[0-9]{2}$"},
                "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                "image_url": {"type": ["string", "null"]},
                "page_url": {"type": ["string", "null"]},
                "stock": {"type": ["integer", "null"], "minimum": 0},
                "synced_at": dict(NULLABLE_TIMESTAMP, description="null: a placeholder, known only from its page."),
                "created_at": TIMESTAMP,
                "updated_at": TIMESTAMP,
            },
        },
        "ProductInput": {
            "type": "object",
            "required": ["name"],
            "additionalProperties": False,
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 200},
                "description": {"type": ["string", "null"], "maxLength": 5000},
                "price": {"type": ["number", "string", "null"], "description": "≥ 0, at most 2 decimals, below 10^8."},
                "currency": {"type": ["string", "null"], "pattern": "^[A-Z]{3}$", "default": "EUR"},
                "image_url": {"type": ["string", "null"], "format": "uri"},
                "page_url": {"type": ["string", "null"], "format": "uri"},
                "stock": {"type": ["integer", "null"], "minimum": 0},
            },
        },
        "ProductList": {
            "type": "object",
            "required": ["products", "next_after"],
            "properties": {
                "products": {"type": "array", "items": ref("Product")},
                "next_after": {"type": ["string", "null"], "description": "Pass as after= for the next page."},
            },
        },
        "CustomerRef": {
            "type": "object",
            "description": "One of email or inquiry_id.",
            "properties": {"email": {"type": "string"}, "inquiry_id": ID},
        },
        "CustomerExport": {
            "type": "object",
            "required": ["exported_at", "emails", "sessions", "inquiries"],
            "properties": {
                "exported_at": TIMESTAMP,
                "emails": {"type": "array", "items": {"type": "string"}},
                "sessions": {"type": "array", "items": {"type": "object"}},
                "inquiries": {"type": "array", "items": {"type": "object"}},
                "emails_sent_to_customer": {"type": "array", "items": {"type": "object"}},
            },
        },
        "Erased": {
            "type": "object",
            "required": ["erased"],
            "properties": {
                "erased": {
                    "type": "object",
                    "properties": {
                        "inquiries": {"type": "integer"},
                        "messages": {"type": "integer"},
                        "files": {"type": "integer", "description": "Attachments (their stored files go too)."},
                        "emails": {"type": "integer"},
                    },
                }
            },
        },
        "Revoked": {
            "type": "object",
            "required": ["revoked_sessions"],
            "properties": {"revoked_sessions": {"type": "integer", "minimum": 0}},
        },
        "StatusChange": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"enum": list(INQUIRY_STATUSES)}},
        },
        "PriorityChange": {
            "type": "object",
            "required": ["priority"],
            "properties": {"priority": {"enum": list(PRIORITIES)}},
        },
        "AssigneeChange": {
            "type": "object",
            "required": ["admin_id"],
            "properties": {"admin_id": dict(NULLABLE_ID, description="An active admin, or null.")},
        },
        **answer_tool_schemas(config),
    }


def answer_tool_schemas(config):
    """Private notes, canned replies and ratings."""
    text = {"type": "string", "minLength": 1, "pattern": "^[^\\x00]*\\S[^\\x00]*$"}
    return {
        "NoteInput": {
            "type": "object",
            "required": ["text"],
            "properties": {
                "text": dict(
                    text,
                    maxLength=config["CHAT_MAX_MESSAGE_LENGTH"],
                    description="Seen by admins only, never by the customer.",
                )
            },
        },
        "CannedReply": {
            "type": "object",
            "required": ["id", "title", "shortcut", "text", "created_at", "updated_at"],
            "properties": {
                "id": ID,
                "title": {"type": "string"},
                "shortcut": {"type": "string"},
                "text": {
                    "type": "string",
                    "description": "May hold {product}, {price}, {customer_first_name}, {shop}.",
                },
                "created_at": TIMESTAMP,
                "updated_at": TIMESTAMP,
            },
        },
        "CannedReplyInput": {
            "type": "object",
            "required": ["title", "shortcut", "text"],
            "properties": {
                "title": dict(text, maxLength=100),
                "shortcut": {
                    "type": "string",
                    "pattern": "^/?[A-Za-z0-9][A-Za-z0-9_-]{0,39}$",
                    "description": "Unique (a taken one is a 422); stored lower case.",
                },
                "text": dict(text, maxLength=5000),
            },
        },
        "CannedReplyList": {
            "type": "object",
            "required": ["canned_replies"],
            "properties": {"canned_replies": {"type": "array", "items": ref("CannedReply")}},
        },
        "RatingInput": {
            "type": "object",
            "required": ["rating"],
            "properties": {
                "rating": {"enum": ["good", "bad"]},
                "comment": {"type": ["string", "null"], "maxLength": 1000},
            },
        },
        "Rating": {
            "type": "object",
            "required": ["rating", "comment", "rated_at"],
            "properties": {
                "rating": {"enum": ["good", "bad"]},
                "comment": {"type": ["string", "null"]},
                "rated_at": TIMESTAMP,
            },
        },
    }


# -- paths ---------------------------------------------------------------------

PRODUCT = path_id("product_id", "product")
INQUIRY = path_id("inquiry_id", "inquiry")
BEFORE = query_id("before", "Only messages older than this id (scrolling back).")
AFTER = query_id("after", "Only messages newer than this id (0: all); no has_older then.", minimum=0)
LIMIT = query(
    "limit", {"type": "integer", "minimum": 0, "maximum": 999999}, "Page size; clamped to the endpoint's range."
)

PATHS = {
    "/api/openapi.json": {
        "get": op("This document.", tag="meta", security=PUBLIC, ok={200: ("OpenAPI 3.1.", None)}),
    },
    "/api/products/{product_id}/messages": {
        "get": op(
            "The caller's own conversation about the product, a page at a time.",
            tag="customer",
            security=CUSTOMER_READ,
            params=[PRODUCT, BEFORE, AFTER, LIMIT],
            ok={
                200: (
                    "The conversation (empty without a session). The shop's answers in it are now delivered.",
                    "Conversation",
                )
            },
            errors=(400, 404),
        ),
        "post": op(
            "Send a customer message, with files (multipart) or without.",
            tag="customer",
            security=CUSTOMER_WRITE,
            params=[PRODUCT],
            body=send_body("CustomerMessage", "CustomerMessageForm", "The message (JSON), or with files (multipart)."),
            description="Pictures are re-encoded (metadata such as GPS removed, turned upright) and get a "
            "thumbnail; PDFs are stored as given. A retry with the same client_message_id returns the stored "
            "message with its files (200), never a second one.",
            ok={
                201: ("Stored.", "Message", CHAT_SESSION_HEADER),
                200: ("Its client_message_id was stored before: the stored message.", "Message", CHAT_SESSION_HEADER),
            },
            errors=(400, 403, 404, 409, 415, 422, 429),
        ),
    },
    "/api/products/{product_id}/messages/read": {
        "put": op(
            "The caller has read the shop's answers (all, or the listed ids).",
            tag="customer",
            security=CUSTOMER_WRITE,
            params=[PRODUCT],
            body=json_body(ref("ReadRequest"), "Optional: which messages.", required=False),
            ok={200: ("Marked.", "ReadMarks")},
            errors=(400, 404, 422),
        ),
    },
    "/api/admin/inquiries": {
        "get": op(
            "The queue, filtered like the panel's list; keyset pages.",
            tag="admin",
            security=ADMIN_READ,
            params=[
                query(
                    "status",
                    {"enum": list(VIEWS), "default": "pending"},
                    "waiting: every status, only those whose customer waits for an answer.",
                ),
                query("priority", {"enum": list(PRIORITIES)}, "Only this priority."),
                query(
                    "assignee",
                    {"anyOf": [{"enum": list(ASSIGNEE_FILTERS)}, ID]},
                    "mine, unassigned, everyone (default) or an admin's id.",
                ),
                query_id("product", "Only this product's inquiries."),
                query_id("product_id", "Same as product."),
                query(
                    "q",
                    {"type": "string", "pattern": "^[^\\x00]*$"},
                    "Text in a message, the email or the product name (first 100 characters; NUL is a 422).",
                ),
                query(
                    "waiting",
                    {"type": "boolean"},
                    "Only inquiries whose customer waits; without status, of every status (not only pending).",
                ),
                query("after", {"type": "string", "pattern": "^[0-9]{1,40}$"}, "next_after of the previous page."),
                LIMIT,
            ],
            ok={200: ("A page of the queue.", "InquiryList")},
            errors=(400, 401, 422),
        ),
    },
    "/api/admin/inquiries/{inquiry_id}": {
        "get": op(
            "One inquiry with a page of its messages (internal notes included).",
            tag="admin",
            security=ADMIN_READ,
            params=[INQUIRY, BEFORE, AFTER],
            ok={200: ("The inquiry.", "InquiryDetail")},
            errors=(400, 401, 404),
        ),
    },
    "/api/admin/inquiries/{inquiry_id}/respond": {
        "post": op(
            "Answer the customer, with files (multipart) or without; a pending inquiry moves to in progress.",
            tag="admin",
            security=ADMIN_WRITE,
            params=[INQUIRY],
            body=send_body("AdminAnswer", "AdminAnswerForm", "The answer (JSON), or with files (multipart)."),
            ok={
                201: ("Stored.", "Message"),
                200: ("Its client_message_id was stored before: the stored answer.", "Message"),
            },
            errors=(400, 401, 404, 409, 415, 422),
        ),
    },
    "/api/admin/inquiries/{inquiry_id}/status": {
        "put": op(
            "Change the status (a note for admins when it really changes).",
            tag="admin",
            security=ADMIN_WRITE,
            params=[INQUIRY],
            body=json_body(ref("StatusChange"), "The new status."),
            ok={200: ("The inquiry now.", "AdminInquiry")},
            errors=(400, 401, 404, 409, 422),
        ),
    },
    "/api/admin/inquiries/{inquiry_id}/priority": {
        "put": op(
            "Change the priority; raising it to high emails the admins.",
            tag="admin",
            security=ADMIN_WRITE,
            params=[INQUIRY],
            body=json_body(ref("PriorityChange"), "The new priority."),
            ok={200: ("The inquiry now.", "AdminInquiry")},
            errors=(400, 401, 404, 409, 422),
        ),
    },
    "/api/admin/inquiries/{inquiry_id}/assignee": {
        "put": op(
            "Assign to an admin, or to nobody (null).",
            tag="admin",
            security=ADMIN_WRITE,
            params=[INQUIRY],
            body=json_body(ref("AssigneeChange"), "Whom."),
            ok={200: ("The inquiry now.", "AdminInquiry")},
            errors=(400, 401, 404, 409, 422),
        ),
    },
}


EXTERNAL_ID = {
    "name": "external_id",
    "in": "path",
    "required": True,
    "description": "The shop's own id for the product: 1-100 characters, no slash or whitespace.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 100, "pattern": "^[^/\\s]+$"},
}


def _with_zip(operation):
    """The export's 200 is JSON, or (``format=zip``) a zip of ``customer.json`` and ``files/``."""
    operation["responses"]["200"]["content"]["application/zip"] = {"schema": {"type": "string", "format": "binary"}}
    return operation


CUSTOMER_QUERY = [
    query("email", {"type": "string"}, "The customer's email (every session that left it)."),
    query_id("inquiry_id", "One of the customer's inquiries."),
]

PATHS.update(
    {
        "/api/admin/customers/export": {
            "get": _with_zip(
                op(
                    "Everything stored about one customer (by email or inquiry).",
                    tag="privacy",
                    security=ADMIN_READ,
                    params=CUSTOMER_QUERY
                    + [query("format", {"enum": ["json", "zip"], "default": "json"}, "zip: the JSON and the files.")],
                    ok={200: ("The customer's data.", "CustomerExport")},
                    errors=(400, 401, 404, 422),
                )
            ),
        },
        "/api/admin/customers/erase": {
            "post": op(
                "Delete all conversations, messages and mails of one customer.",
                tag="privacy",
                security=ADMIN_WRITE,
                body=json_body(ref("CustomerRef"), "Whom."),
                ok={200: ("What was deleted.", "Erased")},
                errors=(400, 401, 404, 422),
            ),
        },
        "/api/admin/customers/revoke-sessions": {
            "post": op(
                "End every chat session of one customer.",
                tag="privacy",
                security=ADMIN_WRITE,
                body=json_body(ref("CustomerRef"), "Whom."),
                ok={200: ("Sessions ended.", "Revoked")},
                errors=(400, 401, 404, 422),
            ),
        },
        "/api/catalog/products": {
            "get": op(
                "The site's products sorted by external id, a page at a time.",
                tag="catalog",
                security=SITE_KEY,
                params=[
                    query("after", {"type": "string"}, "next_after of the previous page."),
                    query(
                        "limit", {"type": "integer", "minimum": 0, "maximum": 999999}, "1-200 (default 50); clamped."
                    ),
                ],
                ok={200: ("A page.", "ProductList")},
                errors=(400, 401),
            ),
        },
        "/api/catalog/products/{external_id}": {
            "get": op(
                "One product (placeholders too).",
                tag="catalog",
                security=SITE_KEY,
                params=[EXTERNAL_ID],
                ok={200: ("The product.", "Product")},
                errors=(400, 401, 404),
            ),
            "put": op(
                "Create or replace a product; the same body again changes nothing.",
                tag="catalog",
                security=SITE_KEY,
                params=[EXTERNAL_ID],
                body=json_body(ref("ProductInput"), "The product."),
                ok={201: ("Created.", "Product"), 200: ("Replaced (or unchanged).", "Product")},
                errors=(400, 401, 404, 422),
            ),
            "delete": op(
                "Delete a product; refused while customers have conversations about it.",
                tag="catalog",
                security=SITE_KEY,
                params=[EXTERNAL_ID],
                ok={204: ("Deleted.", None)},
                errors=(400, 401, 404, 409),
            ),
        },
    }
)


CANNED = path_id("reply_id", "canned reply")

PATHS.update(
    {
        "/api/admin/inquiries/{inquiry_id}/notes": {
            "post": op(
                "Add a private note: other admins see it, the customer never does.",
                tag="admin",
                security=ADMIN_WRITE,
                params=[INQUIRY],
                body=json_body(ref("NoteInput"), "The note."),
                ok={201: ("Stored.", "Message")},
                errors=(400, 401, 404, 422),
            ),
        },
        "/api/admin/canned-replies": {
            "get": op(
                "Every canned reply, by shortcut.",
                tag="admin",
                security=ADMIN_READ,
                ok={200: ("The replies.", "CannedReplyList")},
                errors=(401,),
            ),
            "post": op(
                "Save a canned reply.",
                tag="admin",
                security=ADMIN_WRITE,
                body=json_body(ref("CannedReplyInput"), "The reply."),
                ok={201: ("Stored.", "CannedReply")},
                errors=(400, 401, 422),
            ),
        },
        "/api/admin/canned-replies/{reply_id}": {
            "put": op(
                "Replace a canned reply.",
                tag="admin",
                security=ADMIN_WRITE,
                params=[CANNED],
                body=json_body(ref("CannedReplyInput"), "The reply."),
                ok={200: ("Stored.", "CannedReply")},
                errors=(400, 401, 404, 422),
            ),
            "delete": op(
                "Delete a canned reply.",
                tag="admin",
                security=ADMIN_WRITE,
                params=[CANNED],
                ok={204: ("Deleted.", None)},
                errors=(400, 401, 404),
            ),
        },
        "/api/products/{product_id}/rating": {
            "post": op(
                "Rate the shop's answer in the caller's own resolved conversation (again: replaces it).",
                tag="customer",
                security=CUSTOMER_WRITE,
                params=[PRODUCT],
                body=json_body(ref("RatingInput"), "good or bad, and an optional comment."),
                ok={200: ("Stored.", "Rating")},
                errors=(400, 403, 404, 409, 422),
            ),
        },
    }
)


# -- product Q&A (chat/api/questions.py) -----------------------------------------

QUESTION_SCHEMAS = {
    "PublishedQuestion": {
        "type": "object",
        "required": ["id", "product_id", "question", "answer", "language", "created_at", "updated_at", "url"],
        "properties": {
            "id": ID,
            "product_id": ID,
            "question": {"type": "string"},
            "answer": {"type": "string"},
            "language": {
                "type": "string",
                "enum": list(SHOPPER_LANGUAGES),
                "description": "The language it is written in (its page's JSON-LD inLanguage).",
            },
            "created_at": TIMESTAMP,
            "updated_at": TIMESTAMP,
            "url": {
                "type": ["string", "null"],
                "description": "Its own page (schema.org QAPage) on the demo shop; null for other shops.",
            },
        },
    },
    "AdminPublishedQuestion": {
        "allOf": [
            ref("PublishedQuestion"),
            {
                "type": "object",
                "required": ["inquiry_id"],
                "properties": {"inquiry_id": dict(NULLABLE_ID, description="The inquiry it was published from.")},
            },
        ],
    },
    "QuestionInput": {
        "type": "object",
        "required": ["question", "answer"],
        "properties": {
            "question": {
                "type": "string",
                "minLength": 1,
                "maxLength": 1000,
                "pattern": "^[^\\x00]*\\S[^\\x00]*$",
                "description": "What the public sees asked: edit out anything private.",
            },
            "answer": {"type": "string", "minLength": 1, "maxLength": 5000, "pattern": "^[^\\x00]*\\S[^\\x00]*$"},
            "language": {
                "type": "string",
                "enum": list(SHOPPER_LANGUAGES),
                "description": "The language it is written in (publish only; default: the one its shopper chatted in).",
            },
        },
    },
    "ProductQuestions": {
        "type": "object",
        "required": ["count", "questions"],
        "properties": {
            "count": {"type": "integer", "minimum": 0, "description": "All published for the product."},
            "questions": {
                "type": "array",
                "items": ref("PublishedQuestion"),
                "description": "Newest first (at most 50).",
            },
        },
    },
    "Suggestions": {
        "type": "object",
        "required": ["questions"],
        "properties": {
            "questions": {
                "type": "array",
                "items": ref("PublishedQuestion"),
                "description": "Best match first (at most 3).",
            }
        },
    },
}
QUESTION = path_id("question_id", "published question")

PATHS.update(
    {
        "/api/admin/inquiries/{inquiry_id}/publish": {
            "post": op(
                "Publish a question and answer about the inquiry's product (texts as edited by the admin).",
                tag="admin",
                security=ADMIN_WRITE,
                params=[INQUIRY],
                body=json_body(ref("QuestionInput"), "The public question and answer."),
                ok={201: ("Published.", "AdminPublishedQuestion")},
                errors=(400, 401, 404, 422),
            ),
        },
        "/api/admin/questions/{question_id}": {
            "put": op(
                "Edit a published question and answer.",
                tag="admin",
                security=ADMIN_WRITE,
                params=[QUESTION],
                body=json_body(ref("QuestionInput"), "Both texts."),
                ok={200: ("The entry now.", "AdminPublishedQuestion")},
                errors=(400, 401, 404, 422),
            ),
            "delete": op(
                "Withdraw a published question: gone from every public place.",
                tag="admin",
                security=ADMIN_WRITE,
                params=[QUESTION],
                ok={204: ("Withdrawn.", None)},
                errors=(400, 401, 404),
            ),
        },
        "/api/products/{product_id}/questions": {
            "get": op(
                "The product's published questions and answers, newest first.",
                tag="questions",
                security=PUBLIC,
                params=[PRODUCT],
                ok={200: ("Published Q&A.", "ProductQuestions")},
                errors=(400, 404),
            ),
        },
        "/api/products/{product_id}/suggestions": {
            "get": op(
                "Published questions and answers of the product that match a text (what a shopper types).",
                tag="questions",
                security=PUBLIC,
                params=[
                    PRODUCT,
                    query(
                        "q",
                        {"type": "string"},
                        "What the shopper typed; any word counts (as a prefix), common "
                        "words do not. Empty: no suggestions.",
                    ),
                    query(
                        "language",
                        {"type": "string"},
                        "The shopper's language: entries written in it come first (any other value is ignored).",
                    ),
                ],
                ok={200: ("Matching published Q&A (only ever published ones).", "Suggestions")},
                errors=(400, 404),
            ),
        },
    }
)


from . import (  # noqa: E402  (need the helpers above)
    openapi_hours_metrics,
    openapi_inbound,
    openapi_languages,
    openapi_people,
    openapi_push,
    openapi_webhooks,
)

PATHS.update(openapi_hours_metrics.PATHS)
PATHS.update(openapi_languages.PATHS)
PATHS.update(openapi_webhooks.PATHS)
PATHS.update(openapi_inbound.PATHS)
PATHS.update(openapi_people.PATHS)
PATHS.update(openapi_push.PATHS)
SECURITY_SCHEMES.update(openapi_inbound.SECURITY_SCHEMES)


def document(config):
    """The whole document, for this app's settings (message length)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Product chat API",
            "version": "1",
            "description": "Shoppers' questions about products and the shop's answers. Errors are "
            '`{"error": ..., "fields": {...}}`. Unknown paths under /api/ answer 404 and '
            "other methods 405, in the same format.",
        },
        "tags": [
            {"name": "customer", "description": "A shopper's own conversations."},
            {"name": "admin", "description": "The shop's inquiry queue."},
            {"name": "privacy", "description": "Export and erase one customer's data."},
            {"name": "catalog", "description": "A shop keeps its products in step (site API key)."},
            {"name": "questions", "description": "Published product Q&A and suggested answers."},
            {
                "name": "webhooks",
                "description": "Endpoints that receive signed events (Standard Webhooks); the events are "
                "under `webhooks`.",
            },
            {"name": "inbound", "description": "Reply mails from a mail provider (answer by email)."},
            {"name": "people", "description": "The team: roles, sites, invitations and the audit log."},
            {"name": "push", "description": "Web Push to the admins' phones and desktops."},
            {"name": "meta", "description": "About the API."},
        ],
        "paths": PATHS,
        # What we send to the shop's endpoints: one entry per event type.
        "webhooks": openapi_webhooks.WEBHOOKS,
        "components": {
            "schemas": {
                **schemas(config),
                **QUESTION_SCHEMAS,
                **openapi_hours_metrics.SCHEMAS,
                **openapi_languages.SCHEMAS,
                **openapi_webhooks.SCHEMAS,
                **openapi_people.SCHEMAS,
                **openapi_inbound.SCHEMAS,
                **openapi_push.SCHEMAS,
            },
            "securitySchemes": SECURITY_SCHEMES,
        },
    }


def add_access_errors(doc, url_map):
    """List 403 and 404 on every admin operation that ``access.RULES`` can refuse: 403 where
    its action needs more than the least role (or every site), 404 where it names an object
    that may be on a site outside the caller's (or needs every site). The rules decide in one
    place, so the document follows them instead of repeating them."""
    from ..services.access import ACTIONS, RULES

    for rule in url_map.iter_rules():
        access_rule = RULES.get(rule.endpoint)
        if access_rule is None:
            continue
        action, kind, every_site = access_rule
        statuses = set()
        if ACTIONS[action] != "agent" or every_site:
            statuses.add(403)
        if kind is not None or every_site:
            statuses.add(404)
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            operation = doc["paths"].get(path, {}).get(method.lower())
            if operation is None:
                continue
            for status in sorted(statuses):
                operation["responses"].setdefault(
                    str(status),
                    {"description": ERRORS[status], "content": {"application/json": {"schema": ref("Error")}}},
                )


@bp.get("/openapi.json")
def openapi_json():
    if "openapi" not in current_app.extensions:
        doc = document(current_app.config)
        doc["paths"] = copy.deepcopy(doc["paths"])  # PATHS is this module's: add to a copy
        add_access_errors(doc, current_app.url_map)
        current_app.extensions["openapi"] = doc
    return jsonify(current_app.extensions["openapi"])
