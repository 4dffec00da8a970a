"""The customer's chat about a product: widget, panel and message fragments."""
from flask import Blueprint

from .. import identity

bp = Blueprint("customer", __name__, url_prefix="/products/<id:product_id>/chat")
bp.after_app_request(identity.attach)

from . import views  # noqa: E402,F401
