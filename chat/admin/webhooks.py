"""Webhooks in the panel: endpoints (list, add, edit, enable, delete), their secret (shown
once, rotated), the delivery log with "Send test event" and "Redeliver".

A new secret is shown once, on the page after the redirect: it rides in the
(signed, HttpOnly) session for that one request and is popped when shown. Pages
that show a secret are sent with ``Cache-Control: no-store``.
"""

from flask import flash, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user

from ..models import WEBHOOK_EVENTS
from ..services import ValidationError, access, webhooks
from . import bp

SHOWN_ONCE = "webhook_secret_shown_once"


def _show_once(endpoint, secret):
    session[SHOWN_ONCE] = {"endpoint": endpoint.id, "secret": secret}


def _pop_shown_once(endpoint):
    shown = session.pop(SHOWN_ONCE, None)
    return shown["secret"] if isinstance(shown, dict) and shown.get("endpoint") == endpoint.id else None


def _form():
    return {
        "url": request.form.get("url", ""),
        "events": request.form.getlist("events"),
        "site": request.form.get("site", ""),
    }


def _fields_context(form, errors):
    return dict(
        form=form,
        errors=errors,
        all_sites=access.visible_sites(current_user),
        event_names=WEBHOOK_EVENTS,
        labels=webhooks.EVENT_LABELS,
    )


def _list_page(status=200, form=None, errors=None):
    form = form or {"url": "", "events": list(WEBHOOK_EVENTS), "site": ""}
    html = render_template(
        "admin/webhooks.html", endpoints=webhooks.all_endpoints(current_user), **_fields_context(form, errors or {})
    )
    return html, status


def _endpoint_page(endpoint, status=200, form=None, errors=None, secret=None):
    form = form or {
        "url": endpoint.url,
        "events": endpoint.event_list,
        "site": endpoint.site.public_id if endpoint.site else "",
    }
    html = render_template(
        "admin/webhook.html",
        endpoint=endpoint,
        secret=secret,
        deliveries=webhooks.deliveries(endpoint),
        **_fields_context(form, errors or {}),
    )
    return html, status, {"Cache-Control": "no-store"}


def _back(endpoint, anchor=None):
    return redirect(url_for("admin.webhook_page", endpoint_id=endpoint.id, _anchor=anchor), code=303)


@bp.get("/webhooks")
def webhooks_page():
    """Every endpoint, and the form to add one."""
    return _list_page()


@bp.post("/webhooks")
def create_webhook():
    """Add an endpoint; its page then shows the secret once."""
    form = _form()
    try:
        endpoint, secret = webhooks.create(current_user, form["url"], form["events"], form["site"] or None)
    except ValidationError as error:
        return _list_page(422, form, error.fields)
    _show_once(endpoint, secret)
    return _back(endpoint)


@bp.get("/webhooks/<id:endpoint_id>")
def webhook_page(endpoint_id):
    """One endpoint: its settings, secret rotation, test event and delivery log."""
    endpoint = webhooks.get(endpoint_id)
    return _endpoint_page(endpoint, secret=_pop_shown_once(endpoint))


@bp.get("/webhooks/<id:endpoint_id>/log")
def webhook_log(endpoint_id):
    """The delivery log fragment (HTMX refreshes it while a delivery is pending)."""
    endpoint = webhooks.get(endpoint_id)
    return render_template("admin/_webhook_log.html", endpoint=endpoint, deliveries=webhooks.deliveries(endpoint))


@bp.post("/webhooks/<id:endpoint_id>")
def update_webhook(endpoint_id):
    """Save the URL, events and site (errors shown next to the fields)."""
    endpoint = webhooks.get(endpoint_id)
    form = _form()
    try:
        webhooks.update(
            endpoint.id, url=form["url"], events=form["events"], site=form["site"] or None, admin=current_user
        )
    except ValidationError as error:
        return _endpoint_page(endpoint, 422, form, error.fields)
    flash(gettext("Saved."))
    return _back(endpoint)


@bp.post("/webhooks/<id:endpoint_id>/enabled")
def set_webhook_enabled(endpoint_id):
    """Turn the endpoint on (again) or off."""
    enabled = request.form.get("enabled") == "true"
    endpoint = webhooks.update(endpoint_id, enabled=enabled)
    flash(gettext("Enabled: new events are sent to it.") if enabled else gettext("Turned off: nothing is sent to it."))
    return _back(endpoint)


@bp.post("/webhooks/<id:endpoint_id>/rotate-secret")
def rotate_webhook_secret(endpoint_id):
    """A new secret, shown once on the next page; the old one keeps signing during the overlap."""
    endpoint = webhooks.get(endpoint_id)
    if request.form.get("confirm") != "rotate":
        flash(gettext("Tick the box to confirm the rotation."))
        return _back(endpoint, "secret")
    endpoint, secret = webhooks.rotate_secret(endpoint.id)
    _show_once(endpoint, secret)
    return _back(endpoint, "secret")


@bp.post("/webhooks/<id:endpoint_id>/test")
def test_webhook(endpoint_id):
    """Send a ``webhook.test`` event now; the log below shows how it went."""
    endpoint = webhooks.get(endpoint_id)
    webhooks.send_test(endpoint.id)
    if endpoint.disabled_at is not None:
        flash(gettext("Test event queued: it goes out once the endpoint is enabled."))
    else:
        flash(gettext("Test event sent: its delivery is at the top of the log."))
    return _back(endpoint, "log")


@bp.post("/webhooks/<id:endpoint_id>/deliveries/<id:delivery_id>/redeliver")
def redeliver_webhook(endpoint_id, delivery_id):
    """Send a logged event again (same webhook-id and body)."""
    endpoint = webhooks.get(endpoint_id)
    webhooks.redeliver(endpoint.id, delivery_id)
    flash(gettext("Sent again: the new delivery is at the top of the log."))
    return _back(endpoint, "log")


@bp.post("/webhooks/<id:endpoint_id>/delete")
def delete_webhook(endpoint_id):
    """Remove the endpoint and its log."""
    webhooks.delete(endpoint_id)
    flash(gettext("The endpoint is removed: nothing more is sent to it."))
    return redirect(url_for("admin.webhooks_page"), code=303)
