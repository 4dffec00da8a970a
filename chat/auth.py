"""Admin identity for Flask-Login: one server-side session per login."""

from .extensions import login_manager
from .services import admin_sessions


@login_manager.user_loader
def load_user(token):
    # The session cookie and the remember cookie both carry "<user id>:<key>".
    return admin_sessions.load(token)
