"""The shop's admin panel: login, inquiry list, inquiry view, live stream."""

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")

from . import (  # noqa: E402,F401
    account,
    auth,
    canned,
    customers,
    hours,
    languages,
    live,
    metrics,
    notes,
    people,
    questions,
    sites,
    tokens,
    views,
    webhooks,
)
