"""The admin panel as an installable web app: its manifest, its service worker and the
page it shows offline.

A blueprint of its own (not ``admin.bp``, whose every route needs a login): the browser
fetches these without asking, also after a logout, and they hold nothing of anyone's.
The service worker is scoped to ``/admin/``; it caches only the app shell (our static
files, by their content-hashed URLs) and the offline page, never a page or an answer
with customer data (``templates/admin/sw.js``).
"""

import hashlib

from flask import Blueprint, g, jsonify, render_template, request, url_for
from flask_login import current_user

from .. import i18n, push_delivery
from ..services import push

bp = Blueprint("panel_app", __name__, url_prefix="/admin")


def init_app(app):
    """Register the blueprint, and what the Notifications menu needs: our VAPID public key
    and the ids of this login's push subscriptions (``push_device_ids()``)."""
    app.register_blueprint(bp)
    app.jinja_env.globals.update(
        push_public_key=push_delivery.public_key,
        push_device_ids=lambda: push.ids_of_this_session(current_user),
    )


# What the panel needs to draw itself: cached when the service worker installs.
SHELL_FILES = (
    "css/app.css",
    "favicon.svg",
    "icons/admin-192.png",
    "icons/admin-512.png",
    "vendor/htmx.min.js",
    "vendor/sse.js",
    "js/backoff.js",
    "js/conversation.js",
    "js/attach.js",
    "js/admin.js",
    "js/canned.js",
    "js/notify.js",
    "js/push.js",
)


@bp.get("/manifest.webmanifest")
def manifest():
    icons = [
        {"src": url_for("static", filename=f"icons/admin-{size}.png"), "sizes": f"{size}x{size}", "type": "image/png"}
        for size in (192, 512)
    ]
    icons.append(dict(icons[-1], purpose="maskable"))
    body = {
        "name": "Shop admin · Product chat",
        "short_name": "Shop admin",
        "description": "Answer your shop's product questions.",
        "id": url_for("admin.inquiries_page"),
        "start_url": url_for("admin.inquiries_page", status="waiting"),
        "scope": url_for("admin.inquiries") + "/",
        "display": "standalone",
        "background_color": "#ffffff",
        "theme_color": "#2557d6",
        "icons": icons,
    }
    response = jsonify(body)
    response.mimetype = "application/manifest+json"
    response.headers["Cache-Control"] = "no-cache"
    return response


def _language():
    """The panel language a page asked for (``?lang=``, one of ours), else None."""
    return i18n.clean(request.args.get("lang"), i18n.ADMIN_LANGUAGES)


@bp.get("/sw.js")
def service_worker():
    # Each panel language is its own worker script (the page registers ``sw.js?lang=de``):
    # after a switch the browser installs the new one, which caches the offline page in
    # that language under a new cache name and deletes the old cache.
    offline = url_for("panel_app.offline", lang=_language())
    shell = [offline] + [url_for("static", filename=name) for name in SHELL_FILES]
    # A new shell (any file changed: new hashed names) is a new cache; the old one is deleted.
    version = hashlib.sha256(" ".join(shell).encode()).hexdigest()[:12]
    body = render_template("admin/sw.js", shell=shell, version=version, scope=url_for("admin.inquiries") + "/")
    headers = {
        "Content-Type": "text/javascript; charset=utf-8",
        # Browsers check for a new worker at most daily anyway; no-cache makes each check real.
        "Cache-Control": "no-cache",
    }
    return body, 200, headers


@bp.get("/offline")
def offline():
    """What a navigation shows when the network is gone (cached by the service worker), in
    the language its worker asked for; read from no session: the same for everyone."""
    g.chat_locale = _language() or i18n.admin_locale(None)  # no ?lang=: the browser's languages
    return render_template("admin/offline.html")
