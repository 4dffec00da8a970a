"""GET /widget.js: the one tag a shop pastes. Small, dependency-free, cached long.

The file's content hash is its version: it is the ETag, and the loader puts
it in the iframe's URL, so a new loader always talks to the page it was
written for.
"""

import gzip
import hashlib
import os

import rjsmin
from flask import current_app, request

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
