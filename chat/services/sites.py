"""Sites: the shops that offer the chat, their allowed origins, API keys and identity secret."""

import hashlib
import hmac
import json
import secrets
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext, lazy_gettext

from ..extensions import db
from ..models import Site, SiteApiKey, utcnow
from . import audit, validation
from .errors import NotFound, ValidationError

DEMO_SITE_ID = "demo"
KEY_PREFIX = "pcs_"  # product chat site key: tells it apart from admin API tokens


def _hash(key):
    return hashlib.sha256(key.encode()).hexdigest()


def get(public_id):
    """The site with this public id, or a 404."""
    site = find(public_id)
    if site is None:
        raise NotFound(gettext("No such site."), {"site": gettext("unknown site")})
    return site


def find(public_id):
    if not isinstance(public_id, str) or not 1 <= len(public_id) <= 40:
        return None
    return db.session.scalar(sa.select(Site).filter_by(public_id=public_id))


def all_sites():
    return db.session.scalars(sa.select(Site).order_by(Site.id)).all()


def count():
    return db.session.scalar(sa.select(sa.func.count()).select_from(Site))


def several(site_ids):
    """Whether an admin working on ``site_ids`` (``access.visible_site_ids``; None: every site)
    sees more than one site: their list and inquiry pages then name each inquiry's site."""
    return (count() if site_ids is None else len(site_ids)) > 1


def clean_origins(origins):
    """Validated, de-duplicated origins (a list of strings, or text with one per line).

    Every bad one is named in a single error, so a form can show them all at once.
    """
    if isinstance(origins, str):
        origins = origins.split()
    if not isinstance(origins, list) or len(origins) > 50:
        raise ValidationError(gettext("Give at most 50 origins."), {"origins": gettext("a list of at most 50 origins")})
    cleaned, problems = [], []
    for value in origins:
        try:
            value = validation.origin(value, "origins")
        except ValidationError as error:
            problems.append(error.message)
            continue
        if value not in cleaned:
            cleaned.append(value)
    if problems:
        text = " ".join([*problems, gettext("An origin is scheme://host[:port] with no path; give one per line.")])
        raise ValidationError(text, {"origins": text})
    return cleaned


def _clean_name(name):
    return validation.one_line(name, "name", 120, what=lazy_gettext("Name"))


def check(name, origins):
    """A site's name and origins, validated together: one error names every bad field."""
    problems, messages, cleaned = {}, [], []
    for clean, value in ((_clean_name, name), (clean_origins, origins)):
        try:
            cleaned.append(clean(value))
        except ValidationError as error:
            problems.update({field: error.message for field in error.fields})  # a sentence per field, for forms
            messages.append(error.message)
    if problems:
        raise ValidationError(" ".join(messages), problems)
    return cleaned


def create(name, origins=(), public_id=None, commit=True):
    """A new site; returns (site, api_key) - the key is shown once, only its hash is kept."""
    name, origins = check(name, origins if isinstance(origins, str) else list(origins))
    site = Site(
        public_id=public_id or "s" + secrets.token_hex(5),
        name=name,
        allowed_origins="\n".join(origins),
        identity_secret=secrets.token_hex(32),
    )
    db.session.add(site)
    db.session.flush()
    key = add_key(site, "default", commit=False)
    audit.record("site.created", "site", site.public_id, f"{site.name}; origins: {' '.join(origins) or 'none'}")
    if commit:
        db.session.commit()
    return site, key


def update(site, name, origins, auto_assign=None):
    """Change a site's name and origins (both checked before either is stored), and whether
    new inquiries are assigned automatically (None: unchanged)."""
    before = (site.name, site.origins, site.auto_assign)
    site.name, origins = check(name, origins)
    site.allowed_origins = "\n".join(origins)
    if auto_assign is not None:
        site.auto_assign = auto_assign
    if before != (site.name, origins, site.auto_assign):
        audit.record(
            "site.changed",
            "site",
            site.public_id,
            f"name: {site.name}; origins: {' '.join(origins) or 'none'}; automatic assignment: "
            + ("on" if site.auto_assign else "off"),
        )
    db.session.commit()
    return site


def rotate_identity_secret(site):
    site.identity_secret = secrets.token_hex(32)
    audit.record("identity_secret.rotated", "site", site.public_id)
    db.session.commit()
    return site.identity_secret


def add_key(site, name, commit=True):
    """A new API key for the site; returned once, only its hash is kept."""
    name = validation.one_line(
        name if isinstance(name, str) and name.strip() else "key", "name", 100, what=lazy_gettext("Name")
    )
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    db.session.add(SiteApiKey(site_id=site.id, name=name, key_hash=_hash(key), prefix=key[:10]))
    audit.record("site_key.created", "site", site.public_id, f"key {name!r}")
    if commit:
        db.session.commit()
    return key


def keys_of(site):
    return db.session.scalars(sa.select(SiteApiKey).filter_by(site_id=site.id).order_by(SiteApiKey.id)).all()


def revoke_key(site, key_id):
    if db.session.execute(sa.delete(SiteApiKey).where(SiteApiKey.id == key_id, SiteApiKey.site_id == site.id)).rowcount:
        audit.record("site_key.revoked", "site", site.public_id, f"key #{key_id}")
    db.session.commit()


def site_for_key(key):
    """The site an API key belongs to, or None."""
    if not isinstance(key, str) or not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    row = db.session.scalar(sa.select(SiteApiKey).filter_by(key_hash=_hash(key)))
    if row is None:
        return None
    row.last_used_at = utcnow()
    db.session.commit()
    return row.site


def origin_allowed(site, origin):
    return bool(origin) and origin.lower() in site.origins


def own_origin():
    """Our own origin, from ``PUBLIC_BASE_URL`` (never from the request's ``Host``)."""
    parts = urlsplit(current_app.config["PUBLIC_BASE_URL"])
    return f"{parts.scheme}://{parts.netloc}".lower()


def page_origins(site):
    """Where the site's product pages may live: its listed origins; for the demo shop,
    whose pages are ours, also our own origin."""
    return site.origins + ([own_origin()] if site.public_id == DEMO_SITE_ID else [])


def page_url_allowed(site, url):
    """Is ``url`` an http(s) URL on one of the site's page origins (checked now: origins change)?"""
    try:
        parts = urlsplit(url or "")
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and f"{parts.scheme}://{parts.netloc}".lower() in page_origins(site)


def demo_site():
    """Our own shop's site, made on first use."""
    site = find(DEMO_SITE_ID)
    if site is None:
        site, _ = create("Demo Shop", public_id=DEMO_SITE_ID)
    return site


# A shop's clock may run a little ahead of ours; a signature from further ahead is refused
# (else it would live max_age plus however far ahead it was dated).
IDENTITY_CLOCK_SKEW_SECONDS = 300


def identity_message(customer_id, email, timestamp):
    """The exact bytes a shop signs: the compact JSON array ``["<customer id>","<email>",<unix seconds>]``.

    JSON quotes and escapes each field, so no value can move text from one field
    to the next (``c42`` + ``a:b@x.io`` and ``c42:a`` + ``b@x.io`` sign differently).
    UTF-8, no spaces, non-ASCII characters as themselves, ``/`` not escaped:
    JavaScript's ``JSON.stringify``, Python's ``json.dumps(..., separators=(",", ":"),
    ensure_ascii=False)``, PHP's ``json_encode`` with ``JSON_UNESCAPED_SLASHES |
    JSON_UNESCAPED_UNICODE``.
    """
    return json.dumps([customer_id, email, timestamp], separators=(",", ":"), ensure_ascii=False).encode()


def verify_identity(site, customer_id, email, timestamp, signature, max_age_seconds, now):
    """Is ``signature`` the site's hex HMAC-SHA256 of ``identity_message(...)``, dated within
    ``max_age_seconds`` before ``now`` and at most ``IDENTITY_CLOCK_SKEW_SECONDS`` after it?"""
    if not all(isinstance(v, str) for v in (customer_id, email, timestamp, signature)):
        return False
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12) or not signature.isascii():
        return False
    stamp = int(timestamp)
    if stamp - now > IDENTITY_CLOCK_SKEW_SECONDS or now - stamp > max_age_seconds:
        return False
    try:
        message = identity_message(customer_id, email, stamp)
    except UnicodeEncodeError:  # a lone surrogate: no shop could have signed it
        return False
    expected = hmac.new(site.identity_secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.lower())
