"""Reading JSON bodies: malformed JSON is a 400, wrong shapes a 422."""
from flask import request
from werkzeug.exceptions import BadRequest

from ..services import ValidationError


def json_object(optional=False):
    if optional and not request.get_data(cache=True):
        return {}
    if not request.is_json:
        raise BadRequest("Send a JSON body with Content-Type: application/json.")
    data = request.get_json(silent=True)
    if data is None:
        raise BadRequest("The body is not valid JSON.")
    if not isinstance(data, dict):
        raise ValidationError("The body must be a JSON object.", {"body": "must be an object"})
    return data


def field(data, name, kind=None):
    """A required field of a JSON body, optionally of one type (422 otherwise)."""
    if name not in data:
        raise ValidationError(f"{name} is required.", {name: "required"})
    if kind is not None and not isinstance(data[name], kind):
        raise ValidationError(f"{name} must be a {kind.__name__}.", {name: f"must be a {kind.__name__}"})
    return data[name]

