"""Query-string parameters shared by the HTML and JSON sides."""
from flask import request

from .services import ValidationError


def known_marks(name="marks", limit=100):
    """``marks=12.sent,13.delivered``: the marks a polling client shows now."""
    known = {}
    for item in (request.args.get(name) or "").split(",")[:limit]:
        message_id, _, state = item.partition(".")
        if message_id.isdigit() and state in ("sent", "delivered", "read"):
            known[int(message_id)] = state
    return known


def optional_int(name):
    value = request.args.get(name)
    if value in (None, ""):
        return None
    if not value.isdigit():
        raise ValidationError(f"{name} must be a message id.", {name: "must be a positive integer"})
    return int(value)
