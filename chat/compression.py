"""Compressed text responses (Flask-Compress: Brotli or gzip), without a BREACH oracle.

HTML pages, fragments and JSON of 500 bytes or more are compressed when the
client accepts it; never ``text/event-stream`` (a stream flushes each event as
it happens), never tiny bodies, never what already has a ``Content-Encoding``
(``/widget.js``; static files are WhiteNoise's, compressed ahead of time).

BREACH: a response that holds a secret (the CSRF token in every admin page, an
API key shown once) and reflects text an attacker chose (a search, a submitted
form) leaks the secret through its compressed length, to an attacker who makes
the victim's browser send many variants and watches their sizes. Those requests
come from the attacker's page: cross-site, and the secret is there only
because they carry the victim's cookies. So a request with cookies gets a
compressed answer only when the browser says it comes from our own pages or the
user (``Sec-Fetch-Site: same-origin`` or ``none``); a request without cookies
(the widget, whose identity is a header; API callers with a bearer key; public
pages) gets one whenever it accepts it. Without ``Sec-Fetch-Site`` (an old
browser, a script) a request with cookies is answered uncompressed.
"""

from flask import request
from flask_compress import Compress

compress = Compress()

OUR_OWN = ("same-origin", "none")


def init_app(app):
    """Call first in create_app: the after_request hook registered first runs last,
    after every other hook has set the body and headers."""
    app.config.update(
        COMPRESS_REGISTER=False,  # our hook decides, then asks Flask-Compress
        COMPRESS_ALGORITHM=["br", "gzip"],
        COMPRESS_MIMETYPES=["text/html", "application/json", "text/plain", "text/css", "image/svg+xml"],
        COMPRESS_MIN_SIZE=500,
        COMPRESS_STREAMS=False,
        COMPRESS_EVALUATE_CONDITIONAL_REQUEST=False,  # views answer their own conditional requests
    )
    compress.init_app(app)
    app.after_request(compress_unless_cross_site_with_cookies)


def compress_unless_cross_site_with_cookies(response):
    if request.cookies:
        response.vary.add("Sec-Fetch-Site")  # the same URL may come back compressed or not
        if request.headers.get("Sec-Fetch-Site") not in OUR_OWN:
            response.vary.add("Accept-Encoding")
            return response
    return compress.after_request(response)
