"""Products as the chat meets them: by (site, the shop's own id).

A chat may start on a product page of a shop that has not synced that
product yet. Then the first message creates a placeholder from the page the
widget runs on (its title and URL); the shop's sync fills it in later.
"""

import sqlalchemy as sa
from flask_babel import gettext

from ..extensions import db
from ..models import Product, utcnow
from . import rows, sites, validation
from .errors import NotFound

EXTERNAL_ID_MAX = 100


def find(site, external_id):
    """The site's product with this external id, or None."""
    if not isinstance(external_id, str) or not 1 <= len(external_id) <= EXTERNAL_ID_MAX:
        return None
    return db.session.scalar(sa.select(Product).filter_by(site_id=site.id, external_id=external_id))


def get(site, external_id):
    product = find(site, external_id)
    if product is None:
        raise NotFound(gettext("No such product."), {"external_id": gettext("unknown product")})
    return product


def _page_title(value, external_id):
    try:
        title = validation.clean_text(value, "page_title", required=False).strip()
    except validation.ValidationError:
        title = ""
    return " ".join(title.split())[:200] or f"Product {external_id}"


def _page_url(site, value):
    """The page URL if it is on one of the site's page origins (a host page cannot claim another's)."""
    try:
        url = validation.http_url(value, "page_url")
    except validation.ValidationError:
        return None
    return url if url is not None and sites.page_url_allowed(site, url) else None


def for_chat(site, external_id, page_title=None, page_url=None, known=None):
    """The product a chat is about, made as a placeholder if the shop has not synced it.

    Not committed here: it is committed with the message that needs it, or not at all.
    ``known``: ``find(site, external_id)`` as this request read it already (not read again).
    """
    product = known if known is not None else find(site, external_id)
    if product is not None:
        if product.synced_at is None and product.page_url is None:
            product.page_url = _page_url(site, page_url)
        return product
    # Another first message about the same product may race to make it.
    now = utcnow()
    rows.insert_if_absent(
        Product,
        site_id=site.id,
        external_id=external_id,
        created_at=now,
        updated_at=now,
        name=_page_title(page_title, external_id),
        page_url=_page_url(site, page_url),
    )
    return rows.locked(sa.select(Product).filter_by(site_id=site.id, external_id=external_id))
