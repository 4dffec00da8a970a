"""Security headers on every response.

The Content-Security-Policy allows scripts only from our own origin (no
inline scripts, no eval: HTMX runs with ``allowEval`` off), and framing only
by ourselves. The embedded chat opens ``frame-ancestors`` to the origins its
site lists (``allow_framing``). Styles may be inline: the drawn product
placeholders set a colour through a style attribute.
"""

from flask import g

POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob: https:; connect-src 'self'; font-src 'self'; media-src 'self' data:; "
    "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors {ancestors}"
)


def allow_framing(origins):
    """Let these origins (besides our own) frame the response of this request."""
    g.frame_ancestors = list(origins)


def headers(response):
    """after_request: CSP, nosniff and the referrer policy, unless a view set its own."""
    ancestors = " ".join(["'self'"] + g.get("frame_ancestors", []))
    response.headers.setdefault("Content-Security-Policy", POLICY.format(ancestors=ancestors))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "strict-origin-when-cross-origin")
    return response


def init_app(app):
    app.after_request(headers)
