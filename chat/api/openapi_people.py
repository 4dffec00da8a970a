"""OpenAPI entries for the team: people, invitations, role and site changes, the audit log
(chat/api/admin_people.py). chat/api/openapi.py merges PATHS and SCHEMAS."""

from .openapi import ADMIN_READ, ADMIN_WRITE, ID, NULLABLE_TIMESTAMP, TIMESTAMP, json_body, op, path_id, query, ref

ROLE = {"enum": ["owner", "manager", "agent"]}
SITES = {
    "type": ["array", "null"],
    "items": {"type": "string"},
    "minItems": 1,
    "description": "Site public ids the person works on; null: every site (now and future).",
}
TEXT = {"type": "string"}
NULLABLE_TEXT = {"type": ["string", "null"]}

SCHEMAS = {
    "Person": {
        "type": "object",
        "required": ["id", "email", "name", "role", "sites", "active", "last_seen"],
        "properties": {
            "id": ID,
            "email": TEXT,
            "name": TEXT,
            "role": ROLE,
            "sites": SITES,
            "active": {"type": "boolean"},
            "last_seen": NULLABLE_TIMESTAMP,
        },
    },
    "PendingInvitation": {
        "type": "object",
        "required": ["id", "email", "role", "state", "expires_at"],
        "properties": {
            "id": ID,
            "email": TEXT,
            "role": ROLE,
            "state": {"enum": ["pending", "expired", "revoked"]},
            "expires_at": TIMESTAMP,
        },
    },
    "People": {
        "type": "object",
        "required": ["people", "invitations"],
        "properties": {
            "people": {"type": "array", "items": ref("Person")},
            "invitations": {"type": "array", "items": ref("PendingInvitation")},
        },
    },
    "InvitationRequest": {
        "type": "object",
        "required": ["email", "role"],
        "properties": {"email": {"type": "string", "format": "email"}, "role": ROLE, "sites": SITES},
    },
    "InvitationCreated": {
        "type": "object",
        "required": ["id", "url"],
        "properties": {
            "id": ID,
            "url": {"type": "string", "format": "uri", "description": "The acceptance link (single use, 7 days)."},
        },
    },
    "PersonChange": {
        "type": "object",
        "required": ["role"],
        "properties": {"role": ROLE, "sites": SITES},
    },
    "AuditEntry": {
        "type": "object",
        "required": ["id", "created_at", "actor_kind", "actor", "action", "detail"],
        "properties": {
            "id": ID,
            "created_at": TIMESTAMP,
            "actor_kind": {"enum": ["person", "token", "cli", "anonymous"]},
            "actor_id": {"type": ["integer", "null"]},
            "actor": {"type": "string", "description": "The person's email, the token's name, or the command line."},
            "action": TEXT,
            "object_type": NULLABLE_TEXT,
            "object_id": NULLABLE_TEXT,
            "detail": {
                "type": "string",
                "description": "What changed; never message text, passwords, keys or secrets.",
            },
            "ip": NULLABLE_TEXT,
            "user_agent": NULLABLE_TEXT,
        },
    },
    "AuditPage": {
        "type": "object",
        "required": ["entries", "next_before"],
        "properties": {
            "entries": {"type": "array", "items": ref("AuditEntry")},
            "next_before": {"type": ["integer", "null"], "description": "Pass as `before` for older entries."},
        },
    },
}

DATE = {"type": "string", "format": "date"}

PATHS = {
    "/api/admin/people": {
        "get": op(
            "Everyone the caller works with (people of their sites) and the pending invitations.",
            tag="people",
            security=ADMIN_READ,
            ok={200: ("People and invitations.", "People")},
            errors=(401, 403),
        ),
    },
    "/api/admin/invitations": {
        "post": op(
            "Invite by email with a role and sites; the link is mailed and returned. Managers invite agents "
            "on their own sites only.",
            tag="people",
            security=ADMIN_WRITE,
            body=json_body(ref("InvitationRequest"), "Who, as what, where."),
            ok={201: ("Invited.", "InvitationCreated")},
            errors=(400, 401, 403, 409, 422),
        ),
    },
    "/api/admin/people/{user_id}": {
        "put": op(
            "Set a person's role and sites (owners only). The last owner of every site stays one (409); "
            "an assignee who loses a site is unassigned from its open inquiries.",
            tag="people",
            security=ADMIN_WRITE,
            params=[path_id("user_id", "person")],
            body=json_body(ref("PersonChange"), "The new role and sites."),
            ok={200: ("Changed.", "Person")},
            errors=(400, 401, 403, 404, 409, 422),
        ),
    },
    "/api/admin/audit": {
        "get": op(
            "The audit log, newest first (owners only): logins, people, keys and tokens, secrets, webhooks, "
            "site origins, exports, erasures, purges, settings.",
            tag="people",
            security=ADMIN_READ,
            params=[
                query("person", TEXT, "Part of who acted (email, token name, 'command line')."),
                query("action", TEXT, "One action name (login, person.invited, ...)."),
                query("object", TEXT, "An object type, or type:id (person:3)."),
                query("from", DATE, "First day (UTC)."),
                query("to", DATE, "Last day (UTC)."),
                query("before", ID, "Entries older than this id (the previous page's next_before)."),
                query("limit", {"type": "integer", "minimum": 1, "maximum": 500}, "Page size (default 100)."),
            ],
            ok={200: ("A page of entries.", "AuditPage")},
            errors=(400, 401, 403, 422),
        ),
    },
}
