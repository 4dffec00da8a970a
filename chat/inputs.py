"""Reading request input, in one place, for HTML forms and JSON alike.

- ids: ASCII digits within a signed 64-bit range. In a path anything else is
  a 404 (the ``id`` converter does not match); in a query string, a header
  (``Last-Event-ID``) or a body it is a 400 that names the field.
- text: query strings and form bodies (urlencoded and multipart) must be
  UTF-8; a value that is not is a 400 naming it, never percent-escapes or
  U+FFFD stored in its place (Werkzeug's default). JSON bodies likewise.
- JSON bodies: malformed is a 400, nesting deeper than ``MAX_JSON_DEPTH`` is a
  400 (before the parser recurses), a body that is not an object is a 422.
- bodies larger than ``MAX_CONTENT_LENGTH`` are a 413, chunked ones too
  (``BodyLimit`` below reads at most one byte past the limit). A view marked
  ``larger_body(SETTING)`` (an inbound mail) takes bodies up to that setting; one
  marked ``accepts_files`` (sends with attachments) takes a multipart body as large
  as its files may be (``upload_limit``). Every other body keeps the small limit.
- text values (no lone surrogates, no NUL) are checked by
  ``services.validation``, which every entry point calls.
"""

import io
import json
import re
import tempfile
from urllib.parse import unquote_to_bytes

from flask import Request as FlaskRequest
from flask import current_app, request
from flask_babel import gettext
from werkzeug.exceptions import BadRequest, HTTPException, NotFound
from werkzeug.formparser import FormDataParser as WerkzeugFormDataParser
from werkzeug.formparser import MultiPartParser
from werkzeug.routing import BaseConverter
from werkzeug.utils import cached_property

from .services.errors import BadParameter, ValidationError
from .services.validation import MAX_ID, parse_id

MAX_JSON_DEPTH = 32


def init_app(app):
    """Converters, the request class, the chunked-body limit and the query-string check."""
    app.url_map.converters["id"] = IdConverter
    app.url_map.converters["external"] = ExternalIdConverter
    app.url_map.converters["rest"] = RestOfPathConverter
    app.request_class = Request
    app.wsgi_app = BodyLimit(app.wsgi_app, app)
    # First of all before_request hooks: a query string that is not UTF-8 is a 400
    # on every route, before anything (the login redirect, CSRF) reads it.
    app.before_request(_decode_query_string)
    # Before the CSRF check and the rate limits read the form: an inbound mail's or an upload's body may be large.
    app.before_request(_larger_body_limit)


class IdConverter(BaseConverter):
    """``<id:name>``: a database id in a path (1 to 2**63 - 1, ASCII digits only)."""

    regex = r"[0-9]{1,19}"
    weight = 50

    def to_python(self, value):
        number = int(value)
        if not 1 <= number <= MAX_ID:
            # Not Werkzeug's ValidationError: it is raised after the rule was chosen,
            # and would turn into a 405 wherever another method has the same path.
            raise NotFound()
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
        raise BadParameter(
            gettext("%(name)s must be a whole number.", name=name), {name: gettext("must be a whole number")}
        )
    return max(low, min(int(value), high))


def last_event_id():
    """Where an SSE client is: Last-Event-ID (EventSource's own reconnect) or ``after=``.

    Both carry ids the server sent (0 for "from the start"), so a malformed one
    is a 400 naming it; an EventSource then stops and the widget polls instead.
    """
    values = [optional_id("after", allow_zero=True)]
    header = request.headers.get("Last-Event-ID")
    if header:
        values.append(parse_id(header, "Last-Event-ID", allow_zero=True))
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
        raise BadParameter(
            gettext("%(name)s must be the value the server sent.", name=name), {name: gettext("a timestamp")}
        ) from None


# -- text encoding -------------------------------------------------------------


def _not_utf8(name):
    name = name or "body"
    return BadParameter(
        gettext("%(name)s is not valid UTF-8 text.", name=name), {name: gettext("must be valid UTF-8 text")}
    )


def _utf8(raw, name):
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _not_utf8(name) from None


def decode_pairs(raw, what):
    """``a=1&b=2`` (bytes, percent-encoded) as (name, value) pairs of str; a name or
    value that is not UTF-8 is a 400 naming it (``what`` when the name itself is bad)."""
    pairs = []
    for part in raw.split(b"&"):
        if not part:
            continue
        name, _, value = part.partition(b"=")
        name = _utf8(unquote_to_bytes(name.replace(b"+", b" ")), what)
        pairs.append((name, _utf8(unquote_to_bytes(value.replace(b"+", b" ")), name)))
    return pairs


class _MultiPartParser(MultiPartParser):
    def get_part_charset(self, headers):
        # Latin-1 gives every byte back unchanged, so the fields can be
        # decoded strictly below (Werkzeug would put U+FFFD in place of bad bytes).
        return "latin-1"

    def parse(self, stream, boundary, content_length):
        form, files = super().parse(stream, boundary, content_length)
        # A part whose name Werkzeug cannot read (a bare CR or LF in it) comes back named None,
        # which every reader of the form (the CSRF check first) would trip over.
        if None in form or None in files:
            raise BadParameter(gettext("Every form field needs a name."), {"form": gettext("a field without a name")})
        return self.cls([(name, _utf8(value.encode("latin-1"), name)) for name, value in form.items(multi=True)]), files


class FormDataParser(WerkzeugFormDataParser):
    """Form bodies decoded strictly as UTF-8. The errors raised here are not
    ValueErrors, so Werkzeug does not swallow them into an empty form."""

    def _parse_urlencoded(self, stream, mimetype, content_length, options):
        return stream, self.cls(decode_pairs(stream.read(), "form")), self.cls()

    def _parse_multipart(self, stream, mimetype, content_length, options):
        parser = _MultiPartParser(
            stream_factory=self.stream_factory,
            max_form_memory_size=self.max_form_memory_size,
            max_form_parts=self.max_form_parts,
            cls=self.cls,
        )
        boundary = options.get("boundary", "").encode("ascii")
        if not boundary:
            raise ValueError("Missing boundary")
        form, files = parser.parse(stream, boundary, content_length)
        return stream, form, files


class Request(FlaskRequest):
    form_data_parser_class = FormDataParser

    @cached_property
    def args(self):
        return self.parameter_storage_class(decode_pairs(self.query_string, "query string"))


def _decode_query_string():
    request.args  # noqa: B018 - parsing it is the check


# -- JSON bodies ---------------------------------------------------------------

# A string, closing quote optional: an unterminated one runs to the end in one
# match instead of being searched again from every later quote (quadratic).
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?', re.S)
_BRACKET = re.compile(r"[\[\]{}]")


def json_depth(text):
    """How deeply arrays and objects nest in ``text`` (strings skipped), without parsing it."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
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
        raise ValidationError(gettext("The body must be a JSON object."), {"body": gettext("must be an object")})
    return data


def field(data, name, kind=None):
    """A required field of a JSON body, optionally of one type (422 otherwise)."""
    if name not in data:
        raise ValidationError(gettext("%(name)s is required.", name=name), {name: gettext("required")})
    if kind is not None and (not isinstance(data[name], kind) or isinstance(data[name], bool) and kind is not bool):
        raise ValidationError(
            gettext("%(name)s must be a %(kind)s.", name=name, kind=kind.__name__),
            {name: gettext("must be a %(kind)s", kind=kind.__name__)},
        )
    return data[name]


# -- file uploads ----------------------------------------------------------------


def accepts_files(view):
    """Marks a view that takes ``files`` (multipart): its body may be as large as they
    allow. Put it below rate-limit decorators (they copy the mark when they wrap)."""
    view.accepts_files = True
    return view


def _takes_files(app, endpoint):
    return getattr(app.view_functions.get(endpoint), "accepts_files", False)


def upload_limit(config):
    """The largest body of a send with files: every file at its largest, and room for the text."""
    return config["CHAT_ATTACHMENTS_PER_MESSAGE"] * config["CHAT_ATTACHMENT_MAX_BYTES"] + 1024 * 1024


def too_large_message(default):
    """What a 413 says: for files sent to a route that takes them, how large they may be."""
    if request.mimetype == "multipart/form-data" and request.endpoint and _takes_files(current_app, request.endpoint):
        config = current_app.config
        from flask_babel import gettext

        from .services.attachments import human_size

        return gettext(
            "That is too much to send at once: at most %(count)s files of %(size)s each.",
            count=config["CHAT_ATTACHMENTS_PER_MESSAGE"],
            size=human_size(config["CHAT_ATTACHMENT_MAX_BYTES"]),
        )
    return default


def uploaded_files():
    """The request's ``files`` parts, as the attachments service takes them (empty parts skipped:
    a form with an empty file input sends one)."""
    from .services.attachments import Incoming

    found = []
    for part in request.files.getlist("files"):
        if not part.filename and not part.stream.read(1):
            continue
        part.stream.seek(0)
        found.append(Incoming(part.filename or "", part.stream))
    return found


# -- body size -----------------------------------------------------------------


def larger_body(setting):
    """Marks a view whose body may be as large as the configuration's ``setting`` says
    (bytes) rather than ``MAX_CONTENT_LENGTH``. Put it below other decorators."""

    def mark(view):
        view.body_limit_setting = setting
        return view

    return mark


def _body_limit(flask_app, endpoint, content_type=""):
    """The largest body this route takes with this content type."""
    view = flask_app.view_functions.get(endpoint)
    # Only a multipart body can carry files: JSON and plain forms keep the small limit on those routes too.
    if getattr(view, "accepts_files", False) and content_type.lower().startswith("multipart/form-data"):
        return upload_limit(flask_app.config)
    setting = getattr(view, "body_limit_setting", None)
    return flask_app.config[setting] if setting else flask_app.config.get("MAX_CONTENT_LENGTH")


def _larger_body_limit():
    # Before anything reads the body (Werkzeug's 413 compares with this limit).
    limit = _body_limit(current_app, request.endpoint, request.mimetype)
    if limit != current_app.config.get("MAX_CONTENT_LENGTH"):
        request.max_content_length = limit


class BodyLimit:
    """WSGI middleware for bodies without Content-Length (chunked): it reads at most
    one byte past ``MAX_CONTENT_LENGTH`` and hands the app a body with a length.

    A body within the limit arrives whole. A larger one arrives as an empty body
    that declares ``limit + 1`` bytes, so the first read is Werkzeug's own 413,
    answered through the app's error handlers (JSON for the API, a fragment for
    HTMX) like any declared oversized body, and never a body silently cut short
    at the limit (what Werkzeug alone does with a chunked body)."""

    def __init__(self, app, flask_app):
        self.app = app
        self.flask_app = flask_app

    def _limit(self, environ):
        try:
            endpoint, _ = self.flask_app.url_map.bind_to_environ(environ).match()
        except HTTPException:
            endpoint = None
        return _body_limit(self.flask_app, endpoint, environ.get("CONTENT_TYPE", ""))

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        limit = self._limit(environ) if chunked and not environ.get("CONTENT_LENGTH") else None
        if limit and chunked and not environ.get("CONTENT_LENGTH"):
            stream = environ["wsgi.input"]
            # Spooled: an upload's body may be megabytes (kept on disk past 1 MB).
            body = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)
            length = 0
            while length <= limit:
                chunk = stream.read(min(65536, limit + 1 - length))
                if not chunk:
                    break
                body.write(chunk)
                length += len(chunk)
            if length > limit:
                body.close()
                body = io.BytesIO(b"")
            body.seek(0)
            environ["wsgi.input"] = body
            environ["CONTENT_LENGTH"] = str(length)
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            # With a length, Werkzeug limits the stream to it (no longer "terminated by the server").
            environ.pop("wsgi.input_terminated", None)
        return self.app(environ, start_response)
