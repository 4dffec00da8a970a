"""The catalog: a site's products, kept in step with the shop by its sync API.

A product is found by (site, external id); no call can reach another site's
products, because every lookup carries the caller's site. A product a chat made
before the shop synced it (a placeholder: ``synced_at`` is None) is filled in by
the first PUT, in place, so its conversations stay attached.
"""

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext, lazy_gettext
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from ..models import Product, ProductInquiry, utcnow
from . import products, validation
from .errors import Conflict, NotFound, ServiceError, ValidationError

# What a PUT body may carry, and each field's value when left out or null.
DEFAULTS = {
    "name": None,
    "description": "",
    "price": None,
    "currency": "EUR",
    "image_url": None,
    "page_url": None,
    "stock": None,
}
# In responses only: sending them back is refused with a clearer word than "unknown".
READ_ONLY = ("id", "external_id", "site", "synced_at", "created_at", "updated_at")
MAX_DESCRIPTION = 5000


def _not_found(external_id):
    return NotFound(gettext("No product with this id in your catalog."), {"external_id": gettext("no such product")})


def _path_id(external_id):
    """An external id from the path. A malformed one names no product that could exist: 404,
    as when the ``<external:...>`` converter does not match."""
    try:
        return validation.external_id(external_id)
    except ValidationError as error:
        raise NotFound(error.message, error.fields) from None


_find = products.find


def get(site, external_id):
    """The site's product, or a 404."""
    product = _find(site, _path_id(external_id))
    if product is None:
        raise _not_found(external_id)
    return product


def clean_fields(data):
    """A PUT body's fields, validated all at once: one 422 names every bad field."""
    if not isinstance(data, dict):
        raise ValidationError(gettext("The body must be a JSON object."), {"body": gettext("must be an object")})
    problems = {}
    for name in data:
        if name in READ_ONLY:
            problems[name] = gettext("read-only: set by the server, leave it out")
        elif name not in DEFAULTS:
            problems[name] = gettext("unknown field")
    checks = {
        "name": lambda v: validation.one_line(v, "name", 200, what=lazy_gettext("Name")),
        "description": lambda v: validation.clean_text(
            v, "description", MAX_DESCRIPTION, required=False, what=lazy_gettext("Description")
        ),
        "price": validation.price,
        "currency": validation.currency,
        "image_url": lambda v: validation.http_url(v, "image_url"),
        "page_url": lambda v: validation.http_url(v, "page_url"),
        "stock": validation.stock,
    }
    cleaned = {}
    for name, check in checks.items():
        value = data.get(name)
        if value is None:
            if name == "name":
                problems[name] = gettext("required")
                continue
            cleaned[name] = DEFAULTS[name]
            continue
        try:
            cleaned[name] = check(value)
        except ServiceError as error:
            problems.update(error.fields or {name: error.message})
    if problems:
        names = ", ".join(sorted(problems))
        raise ValidationError(gettext("Please fix these fields: %(names)s.", names=names), problems)
    return cleaned


@dataclass
class PutResult:
    product: Product
    created: bool
    changed: bool


def put(site, external_id, data):
    """Create or replace the site's product (every field: left out means its default).

    Idempotent: a body that matches what is stored writes nothing, so
    ``updated_at`` and ``synced_at`` stay as they were. A placeholder product is
    filled in (and gets ``synced_at``) in place, keeping its conversations.
    """
    external_id = _path_id(external_id)
    fields = clean_fields(data)
    product = _find(site, external_id)
    created = product is None
    if created:
        now = utcnow()
        product = Product(
            site_id=site.id, external_id=external_id, synced_at=now, created_at=now, updated_at=now, **fields
        )
        db.session.add(product)
        try:
            db.session.commit()
            return PutResult(product, True, True)
        except IntegrityError:
            # A simultaneous PUT of the same id won: replace what it stored.
            db.session.rollback()
            product = _find(site, external_id)
            if product is None:
                raise
    changed = product.synced_at is None or any(getattr(product, k) != v for k, v in fields.items())
    if changed:
        for name, value in fields.items():
            setattr(product, name, value)
        # updated_at too when only synced_at moves (a placeholder's first sync).
        product.synced_at = product.updated_at = utcnow()
        db.session.commit()
    return PutResult(product, False, changed)


def delete(site, external_id):
    """Delete the site's product; 409 while it has conversations.

    The conversations are the shop's record of what customers asked and were
    told (maybe a refund under way), so a catalog sync must not wipe them out.
    They go when an admin erases them or the retention purge does; then the
    product can be deleted. One statement checks and deletes, so a
    conversation started meanwhile is never deleted with it.
    """
    product = get(site, external_id)
    product_id = product.id
    db.session.expunge(product)
    products = Product.__table__
    has_conversations = sa.select(ProductInquiry.id).where(ProductInquiry.product_id == product_id).exists()
    result = db.session.execute(sa.delete(products).where(products.c.id == product_id, ~has_conversations))
    db.session.commit()
    if result.rowcount == 1:
        return
    if db.session.get(Product, product_id) is None:
        raise _not_found(external_id)  # deleted by someone else meanwhile
    count = db.session.scalar(sa.select(sa.func.count()).where(ProductInquiry.product_id == product_id))
    raise Conflict(
        gettext(
            "This product has %(count)s conversation(s) with customers, so it is kept. Set its stock "
            "to 0 if it is no longer sold; it can be deleted once its conversations are erased "
            "or purged.",
            count=count,
        ),
        {"conversations": gettext("%(count)s conversation(s) about this product", count=count)},
    )


@dataclass
class Page:
    products: list
    next_after: str | None


def page(site, after=None, limit=50):
    """The site's products (placeholders included) by external id, ``limit`` after ``after``."""
    query = sa.select(Product).filter_by(site_id=site.id)
    if after is not None:
        query = query.where(Product.external_id > validation.external_id(after, "after"))
    rows = db.session.scalars(query.order_by(Product.external_id).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1].external_id if more else None)
