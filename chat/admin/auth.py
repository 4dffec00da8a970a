"""Admin login with Flask-Login over server-side sessions; every admin route requires it."""

import hashlib
import math
import time
from urllib.parse import urlsplit

from flask import current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext, lazy_gettext, ngettext
from flask_limiter import RateLimitExceeded
from flask_limiter.util import get_remote_address
from flask_login import current_user

from ..extensions import limiter, login_manager
from ..limits import once_per_request
from ..services import ValidationError, access, admin_sessions, audit, validation
from . import bp

login_manager.login_view = "admin.login"
login_manager.login_message = lazy_gettext("Please log in to see the inquiries.")


@login_manager.unauthorized_handler
def unauthorized():
    """An HX-Redirect for HTMX, a bare 401 for the stream, the login page for people.
    (The admin JSON API answers its own 401 in chat/api/admin.py.)"""
    login_url = url_for("admin.login", next=request.full_path.rstrip("?") if request.method == "GET" else None)
    if request.headers.get("HX-Request"):
        return "", 401, {"HX-Redirect": login_url}
    if request.path.endswith("/stream"):
        return "", 401
    return redirect(login_url)


@bp.before_request
def require_login():
    # One gate for the whole blueprint: nothing here is public but the login (and an
    # invitation's acceptance); then the route's rule (role, and the object's site).
    if request.endpoint in access.PUBLIC:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    access.check_route(current_user, request.endpoint, request.view_args, request.args)
    return None


def _safe_next(target):
    """``target`` if it is a page of the panel on this site, checked as the redirect will send it; else None.

    No control characters or spaces (``/%0D%0A//evil.test`` arrives as a line break, and
    ``urlsplit`` would quietly drop it: ``///evil.test``), no backslash (browsers read
    ``/\\evil.test`` as ``//evil.test``), no scheme or host, not scheme-relative.
    """
    if not isinstance(target, str) or not 1 < len(target) <= 2000:
        return None
    if (
        not target.startswith("/admin")
        or "\\" in target
        or not all(c.isprintable() and not c.isspace() for c in target)
    ):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc and parts.path.startswith("/admin") else None


# Failed attempts only: a limit is tested before the view and charged after it,
# when the answer says the password was wrong (Flask-Limiter's deduct_when).
def _account_key():
    # The submitted email as the login looks it up, hashed: any email (even a
    # made-up one) has its own budget, and no address is kept in the limiter's storage.
    email = admin_sessions.normalise_email(request.form.get("email", ""))
    return "login-account:" + hashlib.sha256(email.encode()).hexdigest()


@once_per_request(on_outage="password-user:unknown")
def _user_key():
    # Limits are checked before the login gate runs; an anonymous caller is turned away there.
    return f"password-user:{getattr(current_user, 'id', 'anonymous')}"


def _failed(status):
    return lambda response: response.status_code == status


per_account = limiter.limit(
    lambda: current_app.config["LOGIN_FAILURES_PER_ACCOUNT"],
    key_func=_account_key,
    methods=["POST"],
    scope="login-account",
    deduct_when=_failed(401),
)
per_ip = limiter.limit(
    lambda: current_app.config["LOGIN_FAILURES_PER_IP"],
    key_func=get_remote_address,
    methods=["POST"],
    scope="login-ip",
    deduct_when=_failed(401),
)
# A stolen session must not become a way to guess the password either.
per_user_password = limiter.limit(
    lambda: current_app.config["LOGIN_FAILURES_PER_ACCOUNT"],
    key_func=_user_key,
    methods=["POST"],
    scope="password-user",
    deduct_when=_failed(403),
)


def retry_after_seconds():
    """Seconds until the breached limit's window lets an attempt through again."""
    limit = limiter.current_limit
    # window.reset_time is exact (RequestLimit.reset_at adds a second).
    return max(1, math.ceil(limit.window.reset_time - time.time())) if limit is not None else 60


def paused_message(seconds):
    minutes = math.ceil(seconds / 60)
    wait = ngettext("a minute", "%(num)s minutes", minutes)
    return gettext(
        "Too many failed attempts. To keep the account safe we have paused them; please try again in %(wait)s.",
        wait=wait,
    )


@bp.errorhandler(RateLimitExceeded)
def too_many_failures(error):
    """A limited login or password change: its own page, with the message, 429 and Retry-After."""
    seconds = retry_after_seconds()
    headers = {"Retry-After": str(seconds)}
    if request.endpoint == "admin.login":
        page = render_template(
            "admin/login.html",
            error=paused_message(seconds),
            email=admin_sessions.normalise_email(request.form.get("email", "")),
        )
        return page, 429, headers
    if request.endpoint == "admin.change_password":
        from .account import account_page

        return account_page(password_error=paused_message(seconds), status=429, headers=headers)
    return (
        render_template("errors/page.html", code=429, name="Too Many Requests", message=paused_message(seconds)),
        429,
        headers,
    )


@bp.route("/login", methods=["GET", "POST"])
@per_account
@per_ip
def login():
    """The login form; the right email and password start a new server-side session."""
    error = None
    email = ""
    if request.method == "POST":
        email = admin_sessions.normalise_email(request.form.get("email", ""))
        try:
            validation.single_address(email, "email")
        except ValidationError as problem:
            # Not one address (a list, a name, a line break): no account has it; nothing is charged.
            return render_template("admin/login.html", error=problem.message, email=email), problem.status
        user = admin_sessions.authenticate(email, request.form.get("password", ""))
        if user is not None:
            admin_sessions.log_in(user, request.headers.get("User-Agent"), remember=bool(request.form.get("remember")))
            audit.record("login", "person", user.id, actor=user, commit=True)
            # Redirect after POST: a reload does not send the password again.
            return redirect(_safe_next(request.args.get("next")) or url_for("admin.inquiries"))
        error = gettext("Wrong email or password.")
        audit.failed_login(email)
    status = 401 if error else 200
    return render_template("admin/login.html", error=error, email=email), status


@bp.post("/logout")
def logout():
    """End this session on the server; a kept copy of its cookies no longer logs in."""
    audit.record("logout", "person", current_user.id, commit=True)
    admin_sessions.log_out()
    flash(gettext("You are logged out."))
    return redirect(url_for("admin.login"))


@bp.post("/logout/everywhere")
def logout_everywhere():
    """End every session of this admin, this one included."""
    count = admin_sessions.end_all(current_user)
    audit.record("sessions.ended", "person", current_user.id, f"all {count}", commit=True)
    admin_sessions.log_out()
    flash(
        ngettext(
            "You are logged out everywhere (%(num)s session ended).",
            "You are logged out everywhere (%(num)s sessions ended).",
            count,
        )
    )
    return redirect(url_for("admin.login"))
