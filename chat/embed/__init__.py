"""The widget every shop embeds: the loader (/widget.js) and the chat page in its iframe.

Every route under ``/embed/<site>/`` knows its site (an unknown one is a 404)
and, for product routes, the product by the shop's own id (None until the
first message about a product the shop has not synced). The shopper's
session travels only in the ``X-Chat-Session`` header (never a cookie, never
a URL): the loader keeps it in the host page's storage and hands it over by
postMessage, so nothing depends on third-party cookies.
"""

from flask import Blueprint, g, request

from .. import identity
from ..extensions import csrf
from ..services import products, sites

bp = Blueprint("embed", __name__)
# Header callers cannot be forged cross-site; form posts without the header
# still need the CSRF token (identity.csrf_unless_header).
csrf.exempt(bp)


@bp.url_value_preprocessor
def load_site_and_product(endpoint, values):
    if values is None or "site" not in values:
        return
    g.chat_site = sites.get(values.pop("site"))
    # For url_for: the site row is expired by a commit, and reading it again is a query.
    g.chat_site_public_id = g.chat_site.public_id
    external_id = values.pop("external_id", None)
    g.chat_external_id = external_id
    g.chat_product = products.find(g.chat_site, external_id) if external_id is not None else None


@bp.url_defaults
def keep_site_and_product(endpoint, values):
    if "site" not in values and "chat_site" in g and bp.name + "." in endpoint:
        values["site"] = g.get("chat_site_public_id") or g.chat_site.public_id
    if "external_id" not in values and g.get("chat_external_id") is not None and endpoint in PRODUCT_ENDPOINTS:
        values["external_id"] = g.chat_external_id


@bp.before_request
def header_sessions_only():
    if request.path.startswith("/embed/"):
        identity.header_only()
        identity.csrf_unless_header()


PRODUCT_ENDPOINTS = {f"embed.{name}" for name in ("page", "conversation", "messages", "send", "read", "typing")}

from . import away, live, loader, ratings, sessions, suggestions, views  # noqa: E402,F401
