"""Admin login with Flask-Login over server-side sessions; every admin route requires it."""
from urllib.parse import urlsplit

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..extensions import limiter, login_manager
from ..services import admin_sessions
from . import bp

login_manager.login_view = "admin.login"
login_manager.login_message = "Please log in to see the inquiries."


@login_manager.unauthorized_handler
def unauthorized():
    """JSON for the API, an HX-Redirect for HTMX, the login page for people."""
    from flask import jsonify

    if request.path.startswith("/api/"):
        return jsonify(error="Log in, or send an admin API token (Authorization: Bearer ...)."), 401
    login_url = url_for("admin.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
    if request.headers.get("HX-Request"):
        return "", 401, {"HX-Redirect": login_url}
    if request.path.endswith("/stream"):
        return "", 401
    return redirect(login_url)


@bp.before_request
def require_login():
    # One gate for the whole blueprint: nothing here is public but the login.
    if request.endpoint in ("admin.login",):
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    return None


def _safe_next(target):
    parts = urlsplit(target or "")
    return target if target and not parts.scheme and not parts.netloc and target.startswith("/") else None


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("10/minute", methods=["POST"])
def login():
    """The login form; the right email and password start a new server-side session."""
    error = None
    email = ""
    if request.method == "POST":
        email = admin_sessions.normalise_email(request.form.get("email", ""))
        user = admin_sessions.authenticate(email, request.form.get("password", ""))
        if user is not None:
            admin_sessions.log_in(user, request.headers.get("User-Agent"), remember=bool(request.form.get("remember")))
            # Redirect after POST: a reload does not send the password again.
            return redirect(_safe_next(request.args.get("next")) or url_for("admin.inquiries"))
        error = "Wrong email or password."
    status = 401 if error else 200
    return render_template("admin/login.html", error=error, email=email), status


@bp.post("/logout")
def logout():
    """End this session on the server; a kept copy of its cookies no longer logs in."""
    admin_sessions.log_out()
    flash("You are logged out.")
    return redirect(url_for("admin.login"))


@bp.post("/logout/everywhere")
def logout_everywhere():
    """End every session of this admin, this one included."""
    count = admin_sessions.end_all(current_user)
    admin_sessions.log_out()
    flash(f"You are logged out everywhere ({count} session{'s' if count != 1 else ''} ended).")
    return redirect(url_for("admin.login"))
