"""GET /widget.js: the one tag a shop pastes. Small, dependency-free, cached long.
GET /embed/<site>/allowed: whether the page asking may show the site's chat.

The file's content hash is its version: it is the ETag, and the loader puts
it in the iframe's URL, so a new loader always talks to the page it was
written for.
"""

import gzip
import hashlib
import os

import rjsmin
from flask import after_this_request, current_app, jsonify, request
from flask_babel import gettext

from .. import i18n
from ..cookieless import cookie_free
from ..services import sites
from . import bp

_cache = {}


def _loader():
    path = os.path.join(current_app.static_folder, "js", "widget.js")
    mtime = os.path.getmtime(path)
    if _cache.get("mtime") != mtime:
        with open(path, encoding="utf-8") as fh:
            source = fh.read()
        version = hashlib.sha256(source.encode()).hexdigest()[:12]
        # Served minified (rjsmin: comments and spaces go), readable in the repository.
        body = rjsmin.jsmin(source.replace("__VERSION__", version)).encode()
        _cache.update(mtime=mtime, version=version, body=body, gzip=gzip.compress(body, 9, mtime=0))
    return _cache["version"], _cache["body"], _cache["gzip"]


@bp.get("/widget.js")
@cookie_free
def loader():
    """The loader script: draws the launcher, opens the chat in an iframe on demand."""
    version, body, compressed = _loader()
    use_gzip = "gzip" in request.headers.get("Accept-Encoding", "")
    response = current_app.response_class(compressed if use_gzip else body, mimetype="text/javascript")
    if use_gzip:
        response.headers["Content-Encoding"] = "gzip"
    response.vary.add("Accept-Encoding")
    response.set_etag(version + ("-gz" if use_gzip else ""))
    # A day fresh, then revalidated in the background: fixes reach every shop within a day.
    response.headers["Cache-Control"] = "public, max-age=86400, stale-while-revalidate=604800"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response.make_conditional(request)


def host_origins(site):
    """The origins whose pages may show the site's chat: the site's own, and ours (the demo
    shop, the admin's preview)."""
    return set(site.origins) | {sites.own_origin()}


def launcher_words(site):
    """What the loader says on the shop's page, in the shopper's language (``?locale=`` from
    the tag, ``?languages=`` from the browser, as the site enables them)."""
    code = i18n.shopper_locale(site)
    with i18n.force_locale(code):
        return {
            "lang": code,
            "dir": i18n.direction(code),
            "ask": gettext("Ask a question"),
            "frame": gettext("Chat with the shop"),
            # %(num)s is filled in by the loader.
            "one": gettext("Ask a question, %(num)s unread answer", num="%(num)s"),
            "many": gettext("Ask a question, %(num)s unread answers", num="%(num)s"),
            "new": gettext("New answer"),
            # Said (a status region) while the chat is closed.
            "saidOne": gettext("%(num)s unread answer from the shop", num="%(num)s"),
            "saidMany": gettext("%(num)s unread answers from the shop", num="%(num)s"),
        }


def _readable_anywhere(response):
    # Any page may read the answer (a 503 too): "no" must reach the loader without a CORS
    # error in the shop's console. No credentials, and it says nothing the page's own CSP
    # frame-ancestors would not.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.vary.add("Origin")
    return response


@bp.get("/embed/<site_id>/allowed")
@cookie_free
def allowed(site_id):
    """``{"allowed": true|false}``: may the page asking (its ``Origin``) show this site's chat?

    The loader asks before it draws anything. An unknown site is not allowed (still a
    200, so that the loader can read it); a request without ``Origin`` comes from our own
    origin (browsers send none with a same-origin GET). Cached a minute per origin.
    A hint for the loader, not a lock: framing is enforced by the chat page's CSP
    ``frame-ancestors`` and postMessage's exact origins. Raises a 503 while the
    database is down (readable too: the loader asks again later).
    """
    after_this_request(_readable_anywhere)
    site = sites.find(site_id)
    origin = request.headers.get("Origin")
    ok = site is not None and (origin is None or origin.lower() in host_origins(site))
    response = jsonify(allowed=ok, strings=launcher_words(site)) if ok else jsonify(allowed=ok)
    response.vary.add("Accept-Language")
    response.headers["Cache-Control"] = "public, max-age=60"
    return response
