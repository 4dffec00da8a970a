"""Answers that are the same for everyone carry no cookie and do not vary on one.

Flask-Login reads the cookie session after every request, and Flask then adds
``Vary: Cookie`` to the response. The loader (``/widget.js``) and its origin
answer use no cookie, and browsers and shared caches keep them for every
shopper: their views are marked ``@cookie_free`` and the session is not saved
for them (no ``Set-Cookie``, no ``Vary: Cookie``).
"""

from flask import request
from flask.sessions import SecureCookieSessionInterface


def cookie_free(view):
    """Mark a view whose response never depends on, nor sets, the cookie session."""
    view.cookie_free = True
    return view


class SessionInterface(SecureCookieSessionInterface):
    def save_session(self, app, session, response):
        view = app.view_functions.get(request.endpoint) if request.endpoint else None
        if getattr(view, "cookie_free", False):
            return
        super().save_session(app, session, response)
