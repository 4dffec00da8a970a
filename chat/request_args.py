"""Query-string parameters shared by the HTML and JSON sides."""
from flask import request

from .services import ValidationError


def optional_int(name):
    value = request.args.get(name)
    if value in (None, ""):
        return None
    if not value.isdigit():
        raise ValidationError(f"{name} must be a message id.", {name: "must be a positive integer"})
    return int(value)
