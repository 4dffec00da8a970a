"""Customer-facing pages: the shop's product list and product pages."""

from flask import Blueprint

bp = Blueprint("storefront", __name__)

from . import questions, views  # noqa: E402,F401
