"""The JSON API: customer endpoints (the seed's), the admin API and the catalog sync API.

Described in ``openapi.py`` (served at ``/api/openapi.json``): a new endpoint goes there too.

Each audience is a nested blueprint; this parent gives them one error format:
``{"error": ..., "fields": {...}}`` with the status, never an HTML page.
"""

from flask import Blueprint, jsonify
from werkzeug.exceptions import HTTPException

from ..extensions import csrf
from ..inputs import too_large_message
from ..services import ServiceError

bp = Blueprint("api", __name__, url_prefix="/api")


def error_body(message, status, fields=None):
    body = {"error": message}
    if fields:
        body["fields"] = fields
    return jsonify(body), status


@bp.errorhandler(ServiceError)
def service_error(error):
    return error_body(error.message, error.status, error.fields)


@bp.errorhandler(HTTPException)
def http_error(error):
    response = error.get_response()
    message = error.description or error.name
    if error.code == 413:
        message = too_large_message(message)
    body, status = error_body(message, error.code)
    for name in ("Retry-After", "Allow", "WWW-Authenticate"):
        if name in response.headers:
            body.headers[name] = response.headers[name]
    return body, status


from . import (  # noqa: E402
    admin,
    admin_push,  # noqa: E402,F401  (push subscriptions: routes on admin.bp)
    admin_tools,  # noqa: E402,F401  (notes, canned replies: routes on admin.bp)
    admin_webhooks,  # noqa: E402,F401  (webhook endpoints: routes on admin.bp)
    catalog,
    customer,
    inbound,
    openapi,
    questions,  # noqa: E402,F401  (Q&A: adds its admin routes to admin.bp before it is registered)
)

bp.register_blueprint(customer.bp)
bp.register_blueprint(admin.bp)
bp.register_blueprint(catalog.bp)
bp.register_blueprint(inbound.bp)  # a mail provider's inbound webhook (mail-in)
bp.register_blueprint(questions.bp)  # the public product Q&A reads
bp.register_blueprint(openapi.bp)  # GET /api/openapi.json: every endpoint above, described
# Cookie callers of the customer API are checked in customer.py, session callers
# of the admin API in admin.py; header and bearer callers cannot be forged cross-site
# (the catalog API takes site API keys only, never cookies; the inbound webhook its secret).
for nested in (customer.bp, admin.bp, catalog.bp, inbound.bp):
    csrf.exempt(nested)
