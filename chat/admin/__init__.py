"""The shop's admin panel: login, inquiry list, inquiry view, live stream."""
from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from . import account, auth, customers, live, sites, tokens, views  # noqa: E402,F401
from . import hours, metrics  # noqa: E402,F401
