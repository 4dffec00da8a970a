"""Reading request input, in one place, for HTML forms and JSON alike.

- ids: ASCII digits within a signed 64-bit range. In a path anything else is
  a 404 (the ``id`` converter does not match); in a query string or a body it
  is a 400 that names the field.
- JSON bodies: malformed is a 400, nesting deeper than ``MAX_JSON_DEPTH`` is a
  400 (before the parser recurses), a body that is not an object is a 422.
- bodies larger than ``MAX_CONTENT_LENGTH`` are a 413, chunked ones too
  (``BodyLimit`` below reads at most one byte past the limit).
- text values (valid UTF-8, no lone surrogates, no NUL) are checked by
  ``services.validation``, which every entry point calls.
"""
import json
import re

from flask import request
from werkzeug.exceptions import BadRequest, RequestEntityTooLarge
from werkzeug.routing import BaseConverter, ValidationError as RoutingValidationError

from .services.errors import BadParameter, ValidationError
from .services.validation import MAX_ID, parse_id

MAX_JSON_DEPTH = 32


class IdConverter(BaseConverter):
    """``<id:name>``: a database id in a path (1 to 2**63 - 1, ASCII digits only)."""

    regex = r"[0-9]{1,19}"
    weight = 50

    def to_python(self, value):
        number = int(value)
        if not 1 <= number <= MAX_ID:
            raise RoutingValidationError()
        return number

    def to_url(self, value):
        return str(int(value))


class ExternalIdConverter(BaseConverter):
    """``<external:name>``: a shop's own id for a product (no slash, no spaces, at most 100)."""

    regex = r"[^/\s]{1,100}"


class RestOfPathConverter(BaseConverter):
    """``<rest:name>``: everything left of the path, newlines and slashes too (``path`` stops
    at a newline), so a route can answer for ids the converters above refuse."""

    regex = r"(?s:.+)"
    part_isolating = False
    weight = 300


def optional_id(name, source=None, allow_zero=False):
    """An id from the query string (or ``source``); None when absent, 400 when malformed.

    ``allow_zero`` for cursors: ``after=0`` means "from the start".
    """
    value = (request.args if source is None else source).get(name)
    if value in (None, ""):
        return None
    return parse_id(value, name, allow_zero=allow_zero)


def optional_int(name, default, low, high):
    """A small integer option such as ``limit``: clamped to [low, high]; 400 when not a number."""
    value = request.args.get(name)
    if value in (None, ""):
        return default
    if not (isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 6):
        raise BadParameter(f"{name} must be a whole number.", {name: "must be a whole number"})
    return max(low, min(int(value), high))


def last_event_id():
    """Where an SSE client is: Last-Event-ID (EventSource's own reconnect) or ``after=``.

    Malformed values are ignored (a reconnecting browser must not be refused).
    """
    values = []
    for raw in (request.headers.get("Last-Event-ID"), request.args.get("after")):
        try:
            values.append(parse_id(raw, "after", allow_zero=True))
        except ValidationError:
            continue
    values = [v for v in values if v is not None]
    return max(values) if values else None


def parse_since(value, name="since"):
    """A polling cursor the server handed out (an ISO timestamp); None when absent, 400 when not one."""
    from datetime import datetime

    if value in (None, ""):
        return None
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise BadParameter(f"{name} must be the value the server sent.", {name: "a timestamp"}) from None


# -- JSON bodies ---------------------------------------------------------------

_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"', re.S)


def json_depth(text):
    """How deeply arrays and objects nest in ``text`` (strings skipped), without parsing it."""
    depth = deepest = 0
    for char in _STRINGS.sub("", text):
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def json_object(optional=False):
    """The request's JSON body as a dict; 400 malformed or too deep, 422 not an object."""
    raw = request.get_data(cache=True)
    if optional and not raw:
        return {}
    if not request.is_json:
        raise BadRequest("Send a JSON body with Content-Type: application/json.")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("The body is not valid UTF-8.") from None
    if json_depth(text) > MAX_JSON_DEPTH:
        raise BadRequest(f"The JSON body nests deeper than {MAX_JSON_DEPTH} levels.")
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        raise BadRequest("The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise ValidationError("The body must be a JSON object.", {"body": "must be an object"})
    return data


def field(data, name, kind=None):
    """A required field of a JSON body, optionally of one type (422 otherwise)."""
    if name not in data:
        raise ValidationError(f"{name} is required.", {name: "required"})
    if kind is not None and (not isinstance(data[name], kind) or isinstance(data[name], bool) and kind is not bool):
        raise ValidationError(f"{name} must be a {kind.__name__}.", {name: f"must be a {kind.__name__}"})
    return data[name]


# -- body size -----------------------------------------------------------------

class BodyLimit:
    """WSGI middleware: a body without Content-Length (chunked) is read up to the
    limit; one byte more is a 413 instead of a body silently cut short. Bodies
    with a Content-Length are left to Werkzeug, which refuses large ones itself."""

    def __init__(self, app, flask_app):
        self.app = app
        self.flask_app = flask_app

    def __call__(self, environ, start_response):
        limit = self.flask_app.config.get("MAX_CONTENT_LENGTH")
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if limit and chunked and not environ.get("CONTENT_LENGTH"):
            stream = environ["wsgi.input"]
            body = b""
            while len(body) <= limit:
                chunk = stream.read(min(65536, limit + 1 - len(body)))
                if not chunk:
                    break
                body += chunk
            if len(body) > limit:
                return RequestEntityTooLarge()(environ, start_response) if not self._wants_json(environ) \
                    else self._json_413(start_response, limit)
            import io

            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ["wsgi.input_terminated"] = False
        return self.app(environ, start_response)

    @staticmethod
    def _wants_json(environ):
        return environ.get("PATH_INFO", "").startswith("/api/")

    @staticmethod
    def _json_413(start_response, limit):
        body = json.dumps({"error": f"The body is larger than {limit} bytes."}).encode()
        start_response("413 Request Entity Too Large",
                       [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
