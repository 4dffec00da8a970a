"""Error pages: a real page for people, JSON for the API, never a traceback."""
from flask import jsonify, render_template, request
from werkzeug.exceptions import HTTPException, InternalServerError


def wants_json():
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json"
    )


def _render(error):
    if wants_json():
        return jsonify(error=error.description or error.name), error.code
    template = "errors/fragment.html" if request.headers.get("HX-Request") else "errors/page.html"
    return render_template(template, error=error), error.code


def register_error_handlers(app):
    @app.errorhandler(HTTPException)
    def handle_http_exception(error):
        return _render(error)

    @app.errorhandler(Exception)
    def handle_unexpected(error):
        if isinstance(error, HTTPException):
            return _render(error)
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if app.testing and app.config.get("PROPAGATE_EXCEPTIONS"):
            raise error
        return _render(InternalServerError())
