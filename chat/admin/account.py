"""The admin's own account: password, public name, and the sessions they are logged in with."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from ..services import ServiceError, admin_sessions, audit, push, sites
from . import bp
from .auth import per_user_password


def account_page(status=200, headers=None, **errors):
    """The account page, with the form errors given (``password_error``, ``name_error``)."""
    site = sites.find(sites.DEMO_SITE_ID)
    context = dict(
        sessions=admin_sessions.sessions_of(current_user),
        shop_name=site.name if site else gettext("the shop"),
        password_error=None,
        name_error=None,
        language_error=None,
        public_name=current_user.public_name or "",
        devices=push.subscriptions_of(current_user),
        push_preferences=push.preferences_of(current_user),
        push_events=push.EVENT_NAMES,
        quiet_time=push.format_minutes,
        push_error=None,
    )
    context.update(errors)
    return render_template("admin/account.html", **context), status, headers or {}


@bp.get("/account")
def account():
    """Change the password or public name; see and end the sessions of this account."""
    return account_page()


@bp.post("/account/password")
@per_user_password
def change_password():
    """New password (the current one required); every other session ends, this one goes on."""
    try:
        ended = admin_sessions.change_password(
            current_user,
            request.form.get("current_password", ""),
            request.form.get("new_password", ""),
            request.form.get("confirm_password", ""),
        )
    except ServiceError as error:
        return account_page(status=error.status, password_error=error.message)
    flash(gettext("Your password is changed. %(ended)s.", ended=_ended(ended)))
    return redirect(url_for("admin.account"))


@bp.post("/account/public-name")
def change_public_name():
    """The name customers see next to this admin's answers (empty: the shop's name)."""
    value = request.form.get("public_name", "")
    try:
        admin_sessions.set_public_name(current_user, value)
    except ServiceError as error:
        return account_page(status=error.status, name_error=error.message, public_name=value)
    flash(gettext("Your public name is saved."))
    return redirect(url_for("admin.account"))


@bp.post("/account/language")
def change_language():
    """The panel's language for this admin (empty: their browser's)."""
    try:
        admin_sessions.set_language(current_user, request.form.get("language", ""))
    except ServiceError as error:
        return account_page(status=error.status, language_error=error.message)
    flash(gettext("The panel's language is saved."))
    return redirect(url_for("admin.account"))


@bp.post("/account/sessions/<id:session_id>/end")
def end_session(session_id):
    """End one session of this account (ending this device's is a logout); 404 if not ours."""
    if session_id == current_user.admin_session_id:
        admin_sessions.log_out()
        flash(gettext("You are logged out."))
        return redirect(url_for("admin.login"))
    admin_sessions.end(current_user, session_id)
    audit.record("sessions.ended", "session", session_id, commit=True)
    flash(gettext("That session has ended; that browser must log in again."))
    return redirect(url_for("admin.account"))


@bp.post("/account/devices/<id:subscription_id>/remove")
def remove_device(subscription_id):
    """Stop pushing to one of this account's devices; 404 if it is not ours."""
    push.unsubscribe(current_user, subscription_id)
    flash(gettext("That device gets no more notifications."))
    return redirect(url_for("admin.account", _anchor="devices"))


@bp.post("/account/devices/<id:subscription_id>/test")
def test_device(subscription_id):
    """Push a test notification to one of this account's devices; 404 if it is not ours."""
    push.send_test(current_user, subscription_id)
    flash(gettext("A test notification is on its way to that device."))
    return redirect(url_for("admin.account", _anchor="devices"))


@bp.post("/account/push-preferences")
def change_push_preferences():
    """Which events are pushed to this account's devices, and quiet hours (the site's time)."""
    try:
        push.set_preferences(
            current_user,
            request.form.getlist("events"),
            request.form.get("quiet_start", ""),
            request.form.get("quiet_end", ""),
        )
    except ServiceError as error:
        return account_page(status=error.status, push_error=error.message)
    flash(gettext("Your notification choices are saved."))
    return redirect(url_for("admin.account", _anchor="devices"))


def _ended(count):
    if not count:
        return gettext("No other session was open")
    return ngettext("%(num)s other session was ended", "%(num)s other sessions were ended", count)
