"""Sites in the panel: create a shop, its origins, API keys, identity secret and embed snippet.

New API keys are shown once, on the page after the redirect: the key rides in
the (signed, HttpOnly) session for that one request and is popped when shown.
Pages that show secrets are sent with ``Cache-Control: no-store``.
"""

import json
import shlex

from flask import current_app, flash, g, redirect, render_template, request, session, url_for
from flask_babel import gettext
from flask_login import current_user
from markupsafe import escape

from .. import links
from ..links import widget_loader
from ..services import ValidationError, access, audit, sites
from . import bp

SHOWN_ONCE = "site_key_shown_once"
EXAMPLE_PRODUCT = "SKU-123"


@bp.app_context_processor
def site_names():
    """``many_sites()`` for the inquiry list and page: name the site only when the admin
    sees several (their list's stream decides the same: ``AdminStream.name_sites``)."""

    def many_sites():
        if "many_sites" not in g:
            g.many_sites = sites.several(access.visible_site_ids(current_user))
        return g.many_sites

    return {"many_sites": many_sites}


def _show_once(site, key):
    session[SHOWN_ONCE] = {"site": site.public_id, "key": key}


def _pop_shown_once(site):
    shown = session.pop(SHOWN_ONCE, None)
    return shown["key"] if isinstance(shown, dict) and shown.get("site") == site.public_id else None


def _snippet(site, product=None):
    """The tag a shop puts on its product pages (attribute values HTML-escaped for their page)."""
    return (
        f'<script src="{escape(widget_loader())}" data-site="{escape(site.public_id)}" '
        f'data-product="{escape(product or "THEIR_PRODUCT_ID")}" async></script>'
    )


def _curl_examples(site):
    """The sync API calls with this site's values filled in; the key stays in $CHAT_API_KEY."""
    url = shlex.quote(links.external("api.catalog.put_product", external_id=EXAMPLE_PRODUCT))
    auth = '-H "Authorization: Bearer $CHAT_API_KEY"'
    page = (site.origins[0] if site.origins else "https://shop.example") + f"/products/{EXAMPLE_PRODUCT}"
    body = json.dumps({"name": "Linen shirt", "price": "49.90", "currency": "EUR", "stock": 12, "page_url": page})
    return {
        "put": f"curl -X PUT {url} \\\n  {auth} \\\n  -H 'Content-Type: application/json' \\\n  -d {shlex.quote(body)}",
        "get": f"curl {url} \\\n  {auth}",
        "list": f"curl {shlex.quote(links.external('api.catalog.list_products', limit=50))} \\\n  {auth}",
        "delete": f"curl -X DELETE {url} \\\n  {auth}",
    }


IDENTITY_EXAMPLE = """\
# Python
stamp = int(time.time())
message = json.dumps([str(customer_id), email, stamp], separators=(",", ":"), ensure_ascii=False)
signature = hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()

// PHP
$stamp = time();
$message = json_encode([(string) $customerId, $email, $stamp], JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE);
$signature = hash_hmac('sha256', $message, $secret);

// Node.js
const stamp = Math.floor(Date.now() / 1000);
const message = JSON.stringify([String(customerId), email, stamp]);
const signature = crypto.createHmac("sha256", secret).update(message).digest("hex");"""


def _duration(seconds):
    """``86400`` as "24 hours" (the identity signature's lifetime, in the page's words)."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hour{'s' if seconds != 3600 else ''}"
    return f"{max(1, seconds // 60)} minutes"


def _site_page(site, status=200, errors=None, form=None, key_error=None, new_key=None, **sections):
    """``sections``: further sections' context (the business hours form's values and errors)."""
    html = render_template(
        "admin/site.html",
        site=site,
        keys=sites.keys_of(site),
        errors=errors or {},
        form=form,
        key_error=key_error,
        new_key=new_key,
        snippet=_snippet(site),
        preview_src=widget_loader(),
        curl=_curl_examples(site),
        example_product=EXAMPLE_PRODUCT,
        identity_example=IDENTITY_EXAMPLE,
        identity_max_age=_duration(current_app.config["CHAT_IDENTITY_MAX_AGE_SECONDS"]),
        **sections,
    )
    return html, status, {"Cache-Control": "no-store"}


@bp.get("/sites")
def sites_page():
    """Every site, and the form to add one."""
    return render_template("admin/sites.html", sites=access.visible_sites(current_user), errors={}, form={})


@bp.post("/sites")
def create_site():
    """Create a site from the form; on success the site's page shows its first API key once."""
    form = {"name": request.form.get("name", ""), "origins": request.form.get("origins", "")}
    try:
        site, key = sites.create(form["name"], form["origins"])
    except ValidationError as error:
        return render_template(
            "admin/sites.html", sites=access.visible_sites(current_user), errors=error.fields, form=form
        ), 422
    _show_once(site, key)
    flash(gettext("Site %(name)s created.", name=site.name))
    return redirect(url_for("admin.site_page", public_id=site.public_id), code=303)


@bp.get("/sites/<public_id>")
def site_page(public_id):
    """One site: name and origins, API keys, identity secret, the snippet, sync API examples."""
    site = sites.get(public_id)
    if access.can(current_user, "identity_secret", site):
        # The page holds the identity secret (behind "Show"): who was shown it.
        audit.record("identity_secret.shown", "site", site.public_id, commit=True)
    return _site_page(site, new_key=_pop_shown_once(site))


@bp.post("/sites/<public_id>")
def update_site(public_id):
    """Save the site's name and origins (field errors shown next to the fields)."""
    site = sites.get(public_id)
    form = {"name": request.form.get("name", ""), "origins": request.form.get("origins", "")}
    try:
        sites.update(site, form["name"], form["origins"], auto_assign=bool(request.form.get("auto_assign")))
    except ValidationError as error:
        return _site_page(site, 422, errors=error.fields, form=form)
    flash(gettext("Saved."))
    return redirect(url_for("admin.site_page", public_id=site.public_id), code=303)


@bp.post("/sites/<public_id>/keys")
def create_site_key(public_id):
    """A new API key for the site, shown once on the next page."""
    site = sites.get(public_id)
    try:
        key = sites.add_key(site, request.form.get("name", ""))
    except ValidationError as error:
        return _site_page(site, 422, key_error=error.message)
    _show_once(site, key)
    return redirect(url_for("admin.site_page", public_id=site.public_id, _anchor="keys"), code=303)


@bp.post("/sites/<public_id>/keys/<id:key_id>/revoke")
def revoke_site_key(public_id, key_id):
    """Revoke one of the site's keys: calls with it get 401 from now on."""
    site = sites.get(public_id)
    sites.revoke_key(site, key_id)
    flash(gettext("The key is revoked."))
    return redirect(url_for("admin.site_page", public_id=site.public_id, _anchor="keys"), code=303)


@bp.post("/sites/<public_id>/identity-secret")
def rotate_identity_secret(public_id):
    """Replace the identity secret, once the form confirms it (old signatures stop working)."""
    site = sites.get(public_id)
    if request.form.get("confirm") != "rotate":
        flash(gettext("Tick the box to confirm: signatures made with the current secret stop working."))
    else:
        sites.rotate_identity_secret(site)
        flash(gettext("The identity secret is rotated. Give the new one to the shop's developers."))
    return redirect(url_for("admin.site_page", public_id=site.public_id, _anchor="identity"), code=303)
