"""Error pages: a page for people, a fragment for HTMX, JSON for the API; never a traceback.

The API blueprint has its own handlers (chat/api/__init__.py); these cover
everything else, and the requests no route matched (a 404 or 405 under /api/
still answers JSON, decided by the path).
"""

import logging
import time

from flask import current_app, g, jsonify, render_template, request
from flask_babel import lazy_gettext
from sqlalchemy.exc import DBAPIError, DisconnectionError, OperationalError, PendingRollbackError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

log = logging.getLogger(__name__)

FRIENDLY = {
    404: lazy_gettext("We could not find that page. It may have been removed, or the link is wrong."),
    500: lazy_gettext("Something went wrong on our side. Please try again in a moment."),
    503: lazy_gettext(
        "We can't reach our database right now. Please try again in a moment; nothing you sent was lost."
    ),
}
RETRY_AFTER_SECONDS = 5
# The error page's heading (HTTP's names, as werkzeug and _service_error give them) in the page's language.
TITLES = {
    "Bad Request": lazy_gettext("Bad Request"),
    "Please check your input": lazy_gettext("Please check your input"),
    "Forbidden": lazy_gettext("Forbidden"),
    "Not Found": lazy_gettext("Not Found"),
    "Method Not Allowed": lazy_gettext("Method Not Allowed"),
    "Conflict": lazy_gettext("Conflict"),
    "Gone": lazy_gettext("Gone"),
    "Request Entity Too Large": lazy_gettext("Request Entity Too Large"),
    "Unsupported Media Type": lazy_gettext("Unsupported Media Type"),
    "Unprocessable Entity": lazy_gettext("Unprocessable Entity"),
    "Too Many Requests": lazy_gettext("Too Many Requests"),
    "Internal Server Error": lazy_gettext("Internal Server Error"),
    "Service Unavailable": lazy_gettext("Service Unavailable"),
}


def wants_json():
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _respond(code, name, message, fields=None, headers=None, without_database=False):
    if wants_json():
        body = {"error": message}
        if fields:
            body["fields"] = fields
        return jsonify(body), code, headers or {}
    template = "errors/fragment.html" if request.headers.get("HX-Request") else "errors/page.html"
    name = str(TITLES.get(name, name))
    if without_database:
        # Context processors would load the logged-in admin (and count sites)
        # from the database that just failed: render with the template's own names only.
        html = current_app.jinja_env.get_template(template).render(code=code, name=name, message=message)
    else:
        # Refused files are named one by one, so the page can show each reason next to its file.
        file_errors = {k: v for k, v in (fields or {}).items() if k.startswith("files[")}
        html = render_template(template, code=code, name=name, message=message, file_errors=file_errors)
    return html, code, headers or {}


def _http_error(error):
    message = FRIENDLY.get(error.code) if error.code >= 500 or error.code == 404 else error.description
    if wants_json() and error.code != 500:
        message = error.description or error.name
    if error.code == 413:
        from .inputs import too_large_message

        message = too_large_message(message)
    headers = {k: v for k, v in error.get_response().headers.items() if k in ("Retry-After", "Allow")}
    return _respond(error.code, error.name, message, headers=headers)


def _service_error(error):
    """Bad input from the service layer: JSON with the fields, or a readable message."""
    name = {404: "Not Found", 403: "Forbidden", 409: "Conflict"}.get(error.status, "Please check your input")
    return _respond(error.status, name, error.message, error.fields)


_last_db_log = [0.0]


def database_unavailable(error):
    """The database is down or unreachable: a clear 503 (whatever was written is rolled back)."""
    from . import identity
    from .extensions import db

    # The after_request hooks still run: they must not ask the database again
    # (an error there would turn this 503 into a bare 500).
    g.database_unavailable = True
    identity.without_database()
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection is gone; the pool discards it
        pass
    # One line per 10 s, not one per request, while the outage lasts.
    if time.monotonic() - _last_db_log[0] > 10:
        _last_db_log[0] = time.monotonic()
        cause = getattr(error, "orig", error)
        log.error("database unavailable (%s: %.200s); answering 503", type(cause).__name__, cause)
    return _respond(
        503,
        "Service Unavailable",
        FRIENDLY[503],
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        without_database=True,
    )


def outage_retry_after(response):
    """after_request: a 503 for an outage keeps our Retry-After. Flask-Limiter puts
    its window's reset there (up to a minute or more) on every limited route's
    answer; a client must not wait that long for a database that is back in seconds.
    Registered before the limiter, so it runs after it."""
    if database_failed():
        response.headers["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def database_failed():
    """This request is answered with the 503: hooks that would query the database skip it."""
    return bool(g.get("database_unavailable"))


def is_outage(error):
    """Connection-level failures (refused, lost, gone away, locked, no free pooled
    connection in time), not bad SQL."""
    return (
        isinstance(error, (OperationalError, DisconnectionError, PoolTimeout))
        or (isinstance(error, DBAPIError) and error.connection_invalidated)
        or (
            # A connection lost earlier in this request (by code that swallowed the error) and not rolled back.
            isinstance(error, PendingRollbackError) and "reconnect until invalid transaction" in str(error)
        )
    )


def _end_session(error=None):
    """teardown: end the request's database session even when its connection just died.

    Flask-SQLAlchemy's own teardown would raise from the rollback of a lost
    connection, after the response was made: the client got a bare 500 for
    a message that may be stored. Registered after it, this runs first.
    """
    from .extensions import db

    try:
        db.session.remove()
    except Exception as exc:  # noqa: BLE001
        if not is_outage(exc):
            raise
        db.session.registry.clear()  # the pool has invalidated the connection; drop the session


def register_error_handlers(app):
    from .services import ServiceError

    app.teardown_appcontext(_end_session)

    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(HTTPException, _http_error)

    @app.errorhandler(Exception)
    def handle_unexpected(error):
        if isinstance(error, HTTPException):
            return _http_error(error)
        if is_outage(error):
            return database_unavailable(error)
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if app.testing:
            raise error
        return _http_error(InternalServerError())
