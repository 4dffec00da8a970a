"""API tokens for the admin JSON API: random, shown once, stored as a hash."""

import hashlib
import secrets

import sqlalchemy as sa
from flask_babel import gettext

from ..extensions import db
from ..models import ApiToken, utcnow
from . import audit
from .errors import ValidationError


def _hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def create(user, name):
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError(
            gettext("Give the token a name (up to 100 characters)."), {"name": gettext("1 to 100 characters")}
        )
    token = "pc_" + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=_hash(token))
    db.session.add(row)
    db.session.flush()
    audit.record("token.created", "token", row.id, f"{name!r} of {user.email}")
    db.session.commit()
    return token


def token_for(token):
    """The token's row if it works (its owner is active), else None. The owner's rights are
    looked up on every call (access.py), so a token never has more than its owner has now."""
    if not token or len(token) > 200:
        return None
    row = db.session.scalar(sa.select(ApiToken).filter_by(token_hash=_hash(token)))
    if row is None or not row.user.is_active:
        return None
    row.last_used_at = utcnow()
    db.session.commit()
    return row


def user_for(token):
    row = token_for(token)
    return row.user if row is not None else None


def tokens_of(user):
    return db.session.scalars(sa.select(ApiToken).filter_by(user_id=user.id).order_by(ApiToken.id)).all()


def revoke(user, token_id):
    if db.session.execute(sa.delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id)).rowcount:
        audit.record("token.revoked", "token", token_id, f"of {user.email}")
    db.session.commit()
