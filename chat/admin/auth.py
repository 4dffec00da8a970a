"""Admin login with Flask-Login; every admin route requires it."""
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from ..extensions import db, limiter, login_manager
from ..models import User
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
    error = None
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "").strip().lower()
        user = db.session.scalar(sa.select(User).filter_by(email=email))
        if user is not None and user.is_active and user.check_password(request.form.get("password", "")):
            login_user(user, remember=bool(request.form.get("remember")))
            return redirect(_safe_next(request.args.get("next")) or url_for("admin.inquiries"))
        error = "Wrong email or password."
    status = 401 if error else 200
    return render_template("admin/login.html", error=error, email=email), status


@bp.post("/logout")
@login_required
def logout():
    logout_user()
    flash("You are logged out.")
    return redirect(url_for("admin.login"))
