"""Error pages: a real page for people, JSON for the API, never a traceback."""
from flask import jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError

FRIENDLY = {
    404: "We could not find that page. It may have been removed, or the link is wrong.",
    500: "Something went wrong on our side. Please try again in a moment.",
}


def wants_json():
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _respond(code, name, message, fields=None):
    if wants_json():
        body = {"error": message}
        if fields:
            body["fields"] = fields
        return jsonify(body), code
    template = "errors/fragment.html" if request.headers.get("HX-Request") else "errors/page.html"
    return render_template(template, code=code, name=name, message=message), code


def _http_error(error):
    message = FRIENDLY.get(error.code) if error.code >= 500 or error.code == 404 else error.description
    if wants_json() and error.code != 500:
        message = error.description or error.name
    return _respond(error.code, error.name, message)


def _service_error(error):
    """Bad input from the service layer: JSON with the fields, or a readable message."""
    name = {404: "Not Found", 403: "Forbidden"}.get(error.status, "Please check your input")
    return _respond(error.status, name, error.message, error.fields)


def register_error_handlers(app):
    from .services import ServiceError

    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(HTTPException, _http_error)

    @app.errorhandler(Exception)
    def handle_unexpected(error):
        if isinstance(error, HTTPException):
            return _http_error(error)
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if app.testing:
            raise error
        return _http_error(InternalServerError())
