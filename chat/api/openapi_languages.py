"""OpenAPI entries for a site's languages (chat/api/admin_languages.py).

Kept beside the main document (chat/api/openapi.py merges PATHS and SCHEMAS).
"""

from ..i18n import SHOPPER_LANGUAGES
from .openapi import ADMIN_READ, ADMIN_WRITE, json_body, op, ref
from .openapi_hours_metrics import SITE

CODE = {"type": "string", "enum": list(SHOPPER_LANGUAGES), "description": "A shipped language's code."}
ENABLED = {
    "type": "array",
    "items": CODE,
    "minItems": 1,
    "uniqueItems": True,
    "description": "The languages the site's shoppers may get (negotiated from their browser's).",
}

SCHEMAS = {
    "SiteLanguages": {
        "type": "object",
        "required": ["default", "enabled"],
        "properties": {
            "default": {**CODE, "description": "For shoppers whose browser asks for none of the enabled ones."},
            "enabled": ENABLED,
        },
    },
    "SiteLanguagesInput": {
        "type": "object",
        "required": ["default", "enabled"],
        "properties": {"default": {**CODE, "description": "One of the enabled languages."}, "enabled": ENABLED},
    },
}

PATHS = {
    "/api/admin/sites/{public_id}/languages": {
        "get": op(
            "A site's languages: the ones its shoppers may get, and the default.",
            tag="admin",
            security=ADMIN_READ,
            params=[SITE],
            ok={200: ("The languages.", "SiteLanguages")},
            errors=(401, 404),
        ),
        "put": op(
            "Replace a site's languages (422 for an unknown code or a default that is not enabled).",
            tag="admin",
            security=ADMIN_WRITE,
            params=[SITE],
            body=json_body(ref("SiteLanguagesInput"), "The default and the enabled languages."),
            ok={200: ("The languages now.", "SiteLanguages")},
            errors=(400, 401, 404, 422),
        ),
    },
}
