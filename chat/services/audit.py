"""The audit log: who did what, on which object, from where, when. Append-only.

``record`` adds one entry in the caller's transaction (``commit=True`` commits it at
once: for actions whose own commit has already happened). Who is found from the
request: the logged-in person, or the API token (``g.api_token``, set by the admin
API), or nobody (a failed login); outside a request it is the command line.
Entries never carry message text, passwords, keys or secrets: callers pass names,
ids and what changed, never values of secrets.

No route changes or deletes an entry; ``purge`` (``flask chat purge``) removes those
older than AUDIT_RETENTION_DAYS.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app, g, has_request_context, request
from flask_babel import gettext
from flask_login import current_user

from ..extensions import db
from ..models import AuditEntry, utcnow
from .errors import ValidationError

# What is recorded (action names, shown in the filter).
ACTIONS = (
    "login",
    "login.failed",
    "logout",
    "sessions.ended",
    "person.invited",
    "invitation.resent",
    "invitation.revoked",
    "invitation.accepted",
    "person.changed",
    "person.deactivated",
    "person.reactivated",
    "person.created",
    "token.created",
    "token.revoked",
    "site.created",
    "site.changed",
    "site_key.created",
    "site_key.revoked",
    "identity_secret.shown",
    "identity_secret.rotated",
    "webhook.created",
    "webhook.changed",
    "webhook.deleted",
    "webhook.secret_rotated",
    "customer.exported",
    "customer.erased",
    "customer.sessions_ended",
    "purge",
    "hours.changed",
)


def _actor():
    """(kind, user id, label) of whoever acts now."""
    if not has_request_context():
        return "cli", None, "command line"
    token = g.get("api_token")
    if token is not None:
        return "token", token.user_id, f"token {token.name!r} of {token.user.email}"
    if current_user and current_user.is_authenticated:
        return "person", current_user.id, current_user.email
    return "anonymous", None, ""


def record(action, object_type=None, object_id=None, detail="", commit=False, actor=None):
    """Add one entry. ``actor``: a User acting (a login, before the session knows them)."""
    kind, user_id, label = _actor()
    if actor is not None:
        kind, user_id, label = "person", actor.id, actor.email
    entry = AuditEntry(
        action=action,
        actor_kind=kind,
        actor_id=user_id,
        actor_label=(label or "")[:255],
        object_type=object_type,
        object_id=None if object_id is None else str(object_id)[:64],
        detail=(detail or "")[:500],
    )
    if has_request_context():
        entry.ip = (request.remote_addr or "")[:45] or None
        entry.user_agent = (request.headers.get("User-Agent") or "")[:200] or None
    db.session.add(entry)
    if commit:
        db.session.commit()
    return entry


def failed_login(email):
    """A refused login: the address tried (as typed, normalised), never the password."""
    entry = record("login.failed", "person", None, "")
    entry.actor_label = (email or "")[:255]
    db.session.commit()


# -- reading ---------------------------------------------------------------


@dataclass
class Filters:
    person: str = ""  # part of the actor's label (email, token name, "command line")
    action: str = ""
    object: str = ""  # "type" or "type:id"
    since: date | None = None
    until: date | None = None

    @classmethod
    def parse(cls, args):
        def text(name, limit=100):
            value = args.get(name) or ""
            if not isinstance(value, str):
                raise ValidationError(gettext("%(name)s must be text.", name=name), {name: gettext("text")})
            return value.strip()[:limit]

        action = text("action")
        if action and action not in ACTIONS:
            raise ValidationError(
                gettext("Unknown action."), {"action": gettext("one of %(names)s", names=", ".join(ACTIONS))}
            )
        return cls(text("person"), action, text("object"), _day(text("from"), "from"), _day(text("to"), "to"))

    def as_args(self):
        args = {"person": self.person, "action": self.action, "object": self.object}
        args["from"] = self.since.isoformat() if self.since else ""
        args["to"] = self.until.isoformat() if self.until else ""
        return {k: v for k, v in args.items() if v}


def _day(value, name):
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValidationError(
            gettext("%(name)s must be a date (YYYY-MM-DD).", name=name), {name: gettext("YYYY-MM-DD")}
        ) from None


def entries(filters, limit=200, before=None):
    """Newest first, up to ``limit`` (``before``: an entry id, for the next page)."""
    query = sa.select(AuditEntry).order_by(AuditEntry.id.desc())
    if filters.person:
        escaped = filters.person.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        query = query.where(AuditEntry.actor_label.like(f"%{escaped}%", escape="\\"))
    if filters.action:
        query = query.where(AuditEntry.action == filters.action)
    if filters.object:
        kind, _, ident = filters.object.partition(":")
        query = query.where(AuditEntry.object_type == kind)
        if ident:
            query = query.where(AuditEntry.object_id == ident)
    if filters.since:
        query = query.where(AuditEntry.created_at >= datetime.combine(filters.since, datetime.min.time()))
    if filters.until:
        query = query.where(
            AuditEntry.created_at < datetime.combine(filters.until + timedelta(days=1), datetime.min.time())
        )
    if before:
        query = query.where(AuditEntry.id < before)
    return db.session.scalars(query.limit(limit)).all()


CSV_HEADER = ("when", "who", "kind", "action", "object", "object_id", "detail", "ip", "user_agent")


def csv_rows(rows):
    yield CSV_HEADER
    for e in rows:
        yield (
            e.created_at.isoformat(timespec="seconds"),
            e.actor_label,
            e.actor_kind,
            e.action,
            e.object_type or "",
            e.object_id or "",
            e.detail,
            e.ip or "",
            e.user_agent or "",
        )


def as_dict(e):
    return {
        "id": e.id,
        "created_at": e.created_at.isoformat() + "Z",
        "actor_kind": e.actor_kind,
        "actor_id": e.actor_id,
        "actor": e.actor_label,
        "action": e.action,
        "object_type": e.object_type,
        "object_id": e.object_id,
        "detail": e.detail,
        "ip": e.ip,
        "user_agent": e.user_agent,
    }


def purge(days=None, now=None):
    """Delete entries older than ``days`` (default AUDIT_RETENTION_DAYS); returns how many."""
    days = days if days is not None else current_app.config["AUDIT_RETENTION_DAYS"]
    cutoff = (now or utcnow()) - timedelta(days=days)
    count = db.session.execute(sa.delete(AuditEntry).where(AuditEntry.created_at < cutoff)).rowcount
    db.session.commit()
    return count
