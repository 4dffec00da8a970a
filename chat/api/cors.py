"""CORS for the customer JSON API: a site's allowed origins may call it from their pages.

The caller identifies with the ``X-Chat-Session`` header, not a cookie, so no
credentials are allowed; the answer names the one origin that asked (never
``*``) and only if the product's site lists it.
"""

from flask import request

from ..errors import database_failed
from ..extensions import db
from ..models import Product

ALLOWED_HEADERS = "Content-Type, X-Chat-Session"
ALLOWED_METHODS = "GET, POST, PUT"


def _allowed_origin():
    origin = request.headers.get("Origin")
    product_id = (request.view_args or {}).get("product_id")
    if not origin or product_id is None:
        return None
    product = db.session.get(Product, product_id)
    if product is None or origin.lower() not in product.site.origins:
        return None
    return origin


def add_headers(response):
    """after_request of the customer API (preflights included)."""
    response.vary.add("Origin")
    if database_failed():
        return response  # the site's origins are in the database; the caller retries the 503 anyway
    origin = _allowed_origin()
    if origin is None:
        return response
    response.headers["Access-Control-Allow-Origin"] = origin
    response.headers["Access-Control-Expose-Headers"] = "X-Chat-Session"
    if request.method == "OPTIONS":
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = "600"
    return response
