"""Admin logins that end on the server.

Flask's session is a signed cookie: deleting it in one browser does nothing to
a copy kept elsewhere. So each login gets a row in ``admin_sessions``: the
browser holds a random key (inside the signed session and, with "Keep me
logged in", Flask-Login's remember cookie), the table only its SHA-256.
Flask-Login's "alternative tokens" pattern carries it: ``User.get_id()`` is
``"<user id>:<key>"`` and :func:`load` (the user loader) accepts it only while
the row exists, belongs to that user, has been used recently and the user is
active. Logging out, "log out everywhere", End on the account page, a
password change or reset and deactivation delete rows: every copy of those
cookies then stops working.

The HTML views, the JSON API (through the user loader) and the CLI all go
through this module.
"""

import hashlib
import re
import secrets
from collections import namedtuple
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app, session
from flask_babel import gettext, lazy_gettext
from flask_login import login_user, logout_user
from ua_parser import parse as parse_user_agent
from werkzeug.security import check_password_hash, generate_password_hash

from ..extensions import db
from ..models import AdminSession, User, utcnow
from . import validation
from .errors import Forbidden, NotFound, ValidationError

# last_seen_at is written at most this often per session: one UPDATE a minute
# instead of one per request (and per SSE heartbeat).
SEEN_EVERY = timedelta(minutes=1)
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024  # scrypt would take anything; a bound keeps a 64 KB "password" out
PUBLIC_NAME_LENGTH = 120
_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{20,100}$")
# Control characters and bidirectional overrides: a name must read the same
# wherever it is shown and cannot reorder the text around it.
_BAD_NAME_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Checked when the email is unknown, so a wrong email costs as long as a wrong password.
_DUMMY_HASH = generate_password_hash(secrets.token_hex(16))


def _hash(key):
    return hashlib.sha256(key.encode()).hexdigest()


def normalise_email(value):
    """The form of an email that logins, the CLI and the per-account limit all use."""
    return value.strip().lower() if isinstance(value, str) else ""


def find_admin(email):
    return db.session.scalar(sa.select(User).filter_by(email=normalise_email(email)))


def _idle_cutoff():
    return utcnow() - timedelta(days=current_app.config["ADMIN_SESSION_IDLE_DAYS"])


# -- logging in and out (request context) ------------------------------------


def authenticate(email, password):
    """The active admin with this email and password, or None."""
    user = find_admin(email)
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH:
        password = ""
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    return user


def log_in(user, user_agent=None, remember=False):
    """Start a new session for ``user`` in this browser.

    Whatever the browser's session held before is dropped (and a previous
    admin session of this browser ends), so nothing planted before the login,
    such as a known session or CSRF token, survives it.
    """
    previous = session.get("_user_id")
    if previous:
        _delete_by_token(previous)
    session.clear()
    # Old rows nobody has used for ADMIN_SESSION_IDLE_DAYS: refused already, tidied here.
    db.session.execute(sa.delete(AdminSession).where(AdminSession.last_seen_at < _idle_cutoff()))
    key = secrets.token_urlsafe(32)
    row = AdminSession(user_id=user.id, key_hash=_hash(key), user_agent=(user_agent or "")[:200] or None)
    db.session.add(row)
    db.session.commit()
    _attach(user, row, key)
    login_user(user, remember=remember)
    return row


def log_out():
    """End this browser's session: its row, the cookie's contents and the remember cookie."""
    previous = session.get("_user_id")
    if previous:
        _delete_by_token(previous)
    session.clear()
    # After clear(): logout_user marks the remember cookie for deletion in the session.
    logout_user()


def _parse(token):
    """``"<user id>:<key>"`` as (user id, key), or None when malformed."""
    if not isinstance(token, str):
        return None
    user_id, _, key = token.partition(":")
    if not (user_id.isascii() and user_id.isdigit() and len(user_id) <= 19) or not _KEY_RE.match(key):
        return None
    return int(user_id), key


def _delete_by_token(token):
    parsed = _parse(token)
    if parsed is None:
        return
    user_id, key = parsed
    db.session.execute(
        sa.delete(AdminSession).where(AdminSession.user_id == user_id, AdminSession.key_hash == _hash(key))
    )
    db.session.commit()


def _attach(user, row, key):
    # Plain attributes, not columns: they say which session this request runs in.
    user.session_key = key
    user.admin_session_id = row.id


def load(token):
    """Flask-Login's user loader: the admin of a live session, or None.

    Used for the session cookie and the remember cookie alike; a deleted or
    idle row, another user's key or an inactive user all give None.
    """
    parsed = _parse(token)
    if parsed is None:
        return None
    user_id, key = parsed
    row = db.session.scalar(
        sa.select(AdminSession)
        .options(sa.orm.joinedload(AdminSession.user))
        .where(AdminSession.key_hash == _hash(key), AdminSession.user_id == user_id)
    )
    if row is None or not row.user.is_active or row.last_seen_at < _idle_cutoff():
        return None
    user = row.user
    now = utcnow()
    if now - row.last_seen_at >= SEEN_EVERY:
        # Conditional, so concurrent requests of one session write it once. The
        # loader runs in before_request (login gate), before a view writes anything.
        db.session.execute(
            sa.update(AdminSession)
            .where(AdminSession.id == row.id, AdminSession.last_seen_at <= now - SEEN_EVERY)
            .values(last_seen_at=now)
        )
        db.session.commit()
    _attach(user, row, key)
    return user


# -- the account page --------------------------------------------------------

SessionInfo = namedtuple("SessionInfo", "id created_at last_seen_at browser current")


def sessions_of(user):
    """The admin's live sessions for the account page, the most recently used first."""
    rows = db.session.scalars(
        sa.select(AdminSession)
        .where(AdminSession.user_id == user.id, AdminSession.last_seen_at >= _idle_cutoff())
        .order_by(AdminSession.last_seen_at.desc(), AdminSession.id.desc())
    ).all()
    current = getattr(user, "admin_session_id", None)
    return [
        SessionInfo(row.id, row.created_at, row.last_seen_at, describe_browser(row.user_agent), row.id == current)
        for row in rows
    ]


def describe_browser(user_agent):
    """A name such as "Firefox 127 on Windows" from a User-Agent header (ua-parser's rules)."""
    if not user_agent:
        return gettext("Unknown browser")
    result = parse_user_agent(user_agent)
    browser = result.user_agent
    os = result.os
    if browser is None or browser.family == "Other":
        name = gettext("Unknown browser")
    else:
        name = f"{browser.family} {browser.major}" if browser.major else browser.family
    if os is not None and os.family != "Other":
        name = gettext("%(browser)s on %(system)s", browser=name, system=os.family)
    return name


def end(user, session_id):
    """End one of ``user``'s sessions; 404 if it is not theirs (or already gone)."""
    done = db.session.execute(
        sa.delete(AdminSession).where(AdminSession.id == session_id, AdminSession.user_id == user.id)
    ).rowcount
    db.session.commit()
    if not done:
        raise NotFound(gettext("That session has already ended."), {"session": gettext("unknown or ended")})


def end_all(user, keep_current=False):
    """End every session of ``user`` (but this one when ``keep_current``); returns how many."""
    query = sa.delete(AdminSession).where(AdminSession.user_id == user.id)
    current = getattr(user, "admin_session_id", None)
    if keep_current and current is not None:
        query = query.where(AdminSession.id != current)
    count = db.session.execute(query).rowcount
    db.session.commit()
    return count


def _new_password(value, field="new_password"):
    value = validation.clean_text(value, field, MAX_PASSWORD_LENGTH, what=lazy_gettext("The password"))
    if len(value) < MIN_PASSWORD_LENGTH:
        raise ValidationError(
            gettext("Use at least %(num)s characters for the new password.", num=MIN_PASSWORD_LENGTH),
            {field: gettext("at least %(num)s characters", num=MIN_PASSWORD_LENGTH)},
        )
    return value


def change_password(user, current, new, confirm):
    """Set a new password; every other session of the admin ends, this one goes on.

    A wrong current password is a 403 (the login limit counts those).
    """
    if not isinstance(current, str) or len(current) > MAX_PASSWORD_LENGTH or not user.check_password(current):
        raise Forbidden(gettext("Your current password is not right."), {"current_password": gettext("does not match")})
    new = _new_password(new)
    if confirm != new:
        raise ValidationError(
            gettext("The two new passwords differ."), {"confirm_password": gettext("must repeat the new password")}
        )
    user.set_password(new)
    db.session.commit()
    return end_all(user, keep_current=True)


def clean_public_name(value):
    """Up to 120 characters of plain text, trimmed; empty means None (the shop's name)."""
    if value is None:
        return None
    value = validation.clean_text(
        value, "public_name", PUBLIC_NAME_LENGTH, required=False, what=lazy_gettext("The public name")
    ).strip()
    if _BAD_NAME_CHARS.search(value):
        raise ValidationError(
            gettext("The public name can only hold plain text on one line."),
            {"public_name": gettext("no control or direction-changing characters")},
        )
    return value or None


def set_public_name(user, value):
    user.public_name = clean_public_name(value)
    db.session.commit()
    return user.public_name


def set_language(user, code):
    """The panel's language for this admin: one of chat.i18n.ADMIN_LANGUAGES, or "" for
    their browser's (422 otherwise)."""
    from flask_babel import gettext

    from ..i18n import ADMIN_LANGUAGES

    if code not in ("", *ADMIN_LANGUAGES):
        raise ValidationError(gettext("Choose one of the panel's languages."), {"language": gettext("en, de or empty")})
    user.language = code or None
    db.session.commit()
    return user.language


# -- the CLI -----------------------------------------------------------------


def set_active(user, active):
    """Activate or deactivate; deactivating ends all sessions at once (API tokens are refused
    while inactive, see admin_tokens.user_for). Returns how many sessions ended."""
    user.is_active = active
    db.session.commit()
    return 0 if active else end_all(user)
