"""The customer's chat about a product: widget, panel and message fragments."""
from flask import Blueprint

from .. import identity
from ..extensions import csrf

bp = Blueprint("customer", __name__, url_prefix="/products/<id:product_id>/chat")
bp.after_app_request(identity.attach)
# Cookie callers must send the CSRF token; X-Chat-Session callers need none.
csrf.exempt(bp)
bp.before_request(identity.csrf_unless_header)

from . import views  # noqa: E402,F401
