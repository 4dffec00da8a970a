"""OpenAPI entries for the business hours and metrics endpoints (chat/api/admin_hours_metrics.py).

Kept beside the main document (chat/api/openapi.py merges PATHS and SCHEMAS).
"""

from ..services.hours import DAYS
from ..services.metrics import MAX_DAYS, PRESETS
from .openapi import ADMIN_READ, ADMIN_WRITE, NULLABLE_ID, json_body, op, query, ref

SITE = {
    "name": "public_id",
    "in": "path",
    "required": True,
    "description": "The site's public id.",
    "schema": {"type": "string", "minLength": 1, "maxLength": 40},
}
SPAN = {
    "type": "array",
    "items": {"type": "string", "pattern": "^([01][0-9]|2[0-3]):[0-5][0-9]$|^24:00$"},
    "minItems": 2,
    "maxItems": 2,
    "description": "[from, to] in the site's local time, from before to.",
}
WEEK = {
    "type": ["object", "null"],
    "additionalProperties": False,
    "properties": {day: {"type": "array", "items": SPAN, "maxItems": 4} for day in DAYS},
    "description": "Open spans per weekday (a day left out or [] is closed); null: always open.",
}
NULLABLE_SECONDS = {"type": ["integer", "null"], "minimum": 0}
WAITING_ROW = {
    "type": "object",
    "required": ["waiting", "oldest"],
    "properties": {
        "product_id": NULLABLE_ID,
        "product": {"type": ["string", "null"]},
        "admin_id": NULLABLE_ID,
        "admin": {"type": ["string", "null"]},
        "waiting": {"type": "integer", "minimum": 1},
        "oldest": {"type": ["string", "null"], "format": "date-time"},
    },
}

SCHEMAS = {
    "BusinessHours": {
        "type": "object",
        "required": ["site", "timezone", "hours", "open_now", "next_open"],
        "properties": {
            "site": {"type": "string"},
            "timezone": {"type": "string"},
            "hours": WEEK,
            "open_now": {"type": "boolean"},
            "next_open": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "Now while open; null if it never opens.",
            },
        },
    },
    "BusinessHoursInput": {
        "type": "object",
        "required": ["timezone"],
        "properties": {
            "timezone": {"type": "string", "description": "An IANA time zone, e.g. Europe/Berlin."},
            "hours": WEEK,
        },
    },
    "MetricsReport": {
        "type": "object",
        "required": [
            "from",
            "to",
            "site",
            "inquiries",
            "answered",
            "first_response_seconds",
            "satisfaction",
            "suggestions",
            "waiting_now",
            "waiting_by_product",
            "waiting_by_assignee",
            "days",
        ],
        "properties": {
            "from": {"type": "string", "format": "date"},
            "to": {"type": "string", "format": "date"},
            "site": {"type": ["string", "null"]},
            "inquiries": {"type": "integer", "minimum": 0},
            "answered": {"type": "integer", "minimum": 0},
            "first_response_seconds": {
                "type": "object",
                "properties": {"median": NULLABLE_SECONDS, "p90": NULLABLE_SECONDS},
                "description": "Nearest-rank percentiles of business-hours seconds to the first answer.",
            },
            "satisfaction": {
                "type": "object",
                "properties": {
                    "good": {"type": "integer"},
                    "bad": {"type": "integer"},
                    "good_share": {"type": ["number", "null"], "minimum": 0, "maximum": 1},
                },
            },
            "suggestions": {
                "type": "object",
                "properties": {"openers": {"type": "integer"}, "served_alone": {"type": "integer"}},
                "description": "Shopper-product pairs that opened a suggested answer, and of them those who "
                "sent no message about the product afterwards.",
            },
            "waiting_now": {"type": "integer", "minimum": 0},
            "waiting_by_product": {"type": "array", "items": WAITING_ROW},
            "waiting_by_assignee": {"type": "array", "items": WAITING_ROW},
            "days": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "date": {"type": "string", "format": "date"},
                        "inquiries": {"type": "integer"},
                        "answered": {"type": "integer"},
                        "first_response_p50": NULLABLE_SECONDS,
                        "first_response_p90": NULLABLE_SECONDS,
                    },
                },
            },
        },
    },
}

PATHS = {
    "/api/admin/sites/{public_id}/hours": {
        "get": op(
            "A site's time zone and weekly business hours, and whether it is open now.",
            tag="admin",
            security=ADMIN_READ,
            params=[SITE],
            ok={200: ("The hours.", "BusinessHours")},
            errors=(401, 404),
        ),
        "put": op(
            "Replace a site's time zone and hours together (nothing is stored when either is wrong).",
            tag="admin",
            security=ADMIN_WRITE,
            params=[SITE],
            body=json_body(ref("BusinessHoursInput"), "The zone and the hours."),
            ok={200: ("The hours now.", "BusinessHours")},
            errors=(400, 401, 404, 422),
        ),
    },
    "/api/admin/metrics": {
        "get": op(
            "Response metrics over a period (UTC days); the numbers of /admin/metrics and its CSV.",
            tag="admin",
            security=ADMIN_READ,
            params=[
                query("from", {"type": "string", "format": "date"}, "First day (default: 30 days before to)."),
                query("to", {"type": "string", "format": "date"}, "Last day (default: today)."),
                query("days", {"type": "integer", "enum": list(PRESETS)}, "A preset ending today, instead of from/to."),
                query("site", {"type": "string"}, "One site's public id (default: all sites)."),
            ],
            description=f"At most {MAX_DAYS} days.",
            ok={200: ("The figures.", "MetricsReport")},
            errors=(401, 422),
        ),
    },
}
