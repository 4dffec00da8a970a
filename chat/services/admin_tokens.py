"""API tokens for the admin JSON API: random, shown once, stored as a hash."""

import hashlib
import secrets

import sqlalchemy as sa

from ..extensions import db
from ..models import ApiToken, utcnow
from .errors import ValidationError


def _hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def create(user, name):
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ValidationError("Give the token a name (up to 100 characters).", {"name": "1 to 100 characters"})
    token = "pc_" + secrets.token_urlsafe(32)
    db.session.add(ApiToken(user_id=user.id, name=name, token_hash=_hash(token)))
    db.session.commit()
    return token


def user_for(token):
    if not token or len(token) > 200:
        return None
    row = db.session.scalar(sa.select(ApiToken).filter_by(token_hash=_hash(token)))
    if row is None or not row.user.is_active:
        return None
    row.last_used_at = utcnow()
    db.session.commit()
    return row.user


def tokens_of(user):
    return db.session.scalars(sa.select(ApiToken).filter_by(user_id=user.id).order_by(ApiToken.id)).all()


def revoke(user, token_id):
    db.session.execute(sa.delete(ApiToken).where(ApiToken.id == token_id, ApiToken.user_id == user.id))
    db.session.commit()
