"""The catalog sync API: a shop creates, replaces, reads, lists and deletes its products.

Authenticated by a site API key (``Authorization: Bearer pcs_...``); every
call acts on the key's own site only, so another site's external ids are
simply not found here.
"""

from flask import Blueprint, g, jsonify, request, url_for

from ..inputs import json_object, optional_int
from ..services import catalog, sites
from .serializers import product_dict

bp = Blueprint("catalog", __name__, url_prefix="/catalog")
# Recorded before the routes, so the converter exists when they are added.


@bp.before_request
def site_api_auth():
    """Find the caller's site from its API key; 401 with a Bearer challenge otherwise."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    site = sites.site_for_key(key.strip()) if scheme.lower() == "bearer" else None
    if site is None:
        challenge = 'Bearer realm="catalog"'
        if scheme.lower() == "bearer" and key.strip():
            challenge += ', error="invalid_token"'  # RFC 6750: only when a key was sent
        return (
            jsonify(error="Send a site API key: Authorization: Bearer <key>."),
            401,
            {"WWW-Authenticate": challenge},
        )
    g.catalog_site = site
    return None


@bp.get("/products")
def list_products():
    """The site's products sorted by external id, a page at a time (``after``, ``limit``)."""
    limit = optional_int("limit", 50, 1, 200)
    page = catalog.page(g.catalog_site, after=request.args.get("after") or None, limit=limit)
    return jsonify(products=[product_dict(p) for p in page.products], next_after=page.next_after)


@bp.get("/products/<external:external_id>")
def get_product(external_id):
    """One product (placeholders too: their ``synced_at`` is null)."""
    return jsonify(product_dict(catalog.get(g.catalog_site, external_id)))


@bp.put("/products/<external:external_id>")
def put_product(external_id):
    """Create (201) or replace (200) a product; the same body again changes nothing."""
    result = catalog.put(g.catalog_site, external_id, json_object())
    response = jsonify(product_dict(result.product))
    response.status_code = 201 if result.created else 200
    if result.created:
        response.headers["Location"] = url_for(".get_product", external_id=external_id)
    return response


@bp.delete("/products/<external:external_id>")
def delete_product(external_id):
    """Delete a product (204); 409 while customers' conversations are about it."""
    catalog.delete(g.catalog_site, external_id)
    return "", 204


@bp.route("/products/<rest:malformed>", methods=["GET", "PUT", "DELETE"])
def malformed_product_id(malformed):
    """An id the ``<external:...>`` converter refuses (a slash, whitespace, over 100
    characters): 404 naming the rule, like any malformed id in a path."""
    return catalog.get(g.catalog_site, malformed)
