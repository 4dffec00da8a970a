"""Static files that cost nothing twice, served by WhiteNoise.

At start-up every file of ``static/`` is copied under a content-hashed name
(``css/app.3f9a1c2b4d5e.css``) into ``instance/static-build/`` and compressed
(gzip, and Brotli); ``url_for('static', ...)`` gives the hashed URL. WhiteNoise
serves that folder: hashed names with a year of immutable caching, so a
returning visitor downloads nothing again and a changed file gets a new URL;
the plain names for an hour. It picks the compressed variant the browser
accepts. Building is idempotent and atomic, so several workers may start at once.
"""

import hashlib
import os
import re
import tempfile

from whitenoise import WhiteNoise
from whitenoise.compress import Compressor

from . import security

HASHED_NAME = re.compile(r"\.[0-9a-f]{12}\.[A-Za-z0-9]+$")
PLAIN_MAX_AGE = 3600
_manifests = {}


def _write_once(path, data):
    """Write ``data`` to ``path`` unless it holds it already (atomic: a rename)."""
    if os.path.exists(path) and os.path.getsize(path) == len(data):
        with open(path, "rb") as fh:
            if fh.read() == data:
                return False
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".tmp-")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
    return True


def hashed_name(relative, data):
    root, ext = os.path.splitext(relative)
    return f"{root}.{hashlib.sha256(data).hexdigest()[:12]}{ext}"


def build(source, target):
    """Copy ``source`` into ``target`` under plain and hashed names, compressed; returns the manifest."""
    compressor = Compressor(quiet=True)
    manifest = {}
    for folder, dirs, files in os.walk(source):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            if name.startswith("."):
                continue
            relative = os.path.relpath(os.path.join(folder, name), source).replace(os.sep, "/")
            with open(os.path.join(source, relative), "rb") as fh:
                data = fh.read()
            manifest[relative] = hashed_name(relative, data)
            for out_name in (relative, manifest[relative]):
                out = os.path.join(target, out_name)
                fresh = _write_once(out, data)
                if compressor.should_compress(out) and (fresh or not os.path.exists(out + ".gz")):
                    compressor.compress(out)
    return manifest


def _manifest(source, target):
    """Built once per process for the same files (tests make many apps)."""
    stamp = tuple(sorted((f, os.path.getmtime(os.path.join(d, f))) for d, _, fs in os.walk(source) for f in fs))
    key = (source, target)
    if _manifests.get(key, (None,))[0] != stamp:
        _manifests[key] = (stamp, build(source, target))
    return _manifests[key][1]


def _headers(headers, path, url):
    # The same protections as every other response (an SVG could carry script).
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "strict-origin-when-cross-origin"
    headers["Content-Security-Policy"] = security.POLICY.format(ancestors="'self'")


def init_app(app):
    target = os.path.join(app.instance_path, "static-build")
    manifest = _manifest(app.static_folder, target)
    app.wsgi_app = WhiteNoise(
        app.wsgi_app,
        root=target,
        prefix="static/",
        max_age=PLAIN_MAX_AGE,
        immutable_file_test=lambda path, url: bool(HASHED_NAME.search(url)),
        add_headers_function=_headers,
        allow_all_origins=False,
    )

    @app.url_defaults
    def hashed_static_urls(endpoint, values):
        if endpoint == "static" and values.get("filename") in manifest:
            values["filename"] = manifest[values["filename"]]
