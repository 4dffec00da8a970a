"""Absolute links for emails, built with url_for against PUBLIC_BASE_URL.

Mails are written in requests (an urgent question) and in the worker (the
periodic scan); both must link to the public address, not to whatever host
the request came in on.
"""
from flask import current_app, request, url_for


def external(endpoint, **values):
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_BASE_URL"]):
        return url_for(endpoint, _external=True, **values)


def widget_loader():
    """Absolute URL of the embed loader script, on the host the admin is using.

    Becomes ``url_for("embed.loader", _external=True)`` once the /widget.js route exists.
    """
    return request.host_url + "widget.js"
