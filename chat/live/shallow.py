"""A long-lived stream's deep work runs on a short greenlet of its own (issue 20: memory).

Python 3.11 keeps a greenlet's interpreter frames in a 16 KB data-stack chunk of its own
(mmap'd when the greenlet first runs Python). Every page of it that the deepest call
touched stays resident for as long as the greenlet lives: for an idle SSE stream, whose
greenlet lives for hours, the open (routing, the login, the ticket's database round trip,
the replay's query and rendering) left about 13 KB resident per stream, in no Python
object. Run aside, that work gets a chunk that is freed when it ends, and the stream's
own greenlet, which only waits, keeps one page (docs/benchmarks.md, "Idle stream memory:
the frames' data stack").
"""

import contextvars

try:
    from greenlet import greenlet
except ImportError:  # no greenlet: plain calls
    greenlet = None


def aside(fn, *args):
    """``fn(*args)`` on a short greenlet (its result or its exception, as a plain call).

    Under gevent the call may block: the hub wakes the short greenlet, and the caller
    resumes when it ends. It runs in a copy of the caller's context (contextvars)."""
    if greenlet is None:
        return fn(*args)
    helper = greenlet(fn)
    helper.gr_context = contextvars.copy_context()
    try:
        return helper.switch(*args)
    finally:
        if helper:
            # The caller was killed while the work waited (a worker's graceful stop): end
            # the work too, or its result would later switch into a caller that moved on.
            helper.throw()


class ShallowStreams:
    """WSGI middleware: a request for an event stream is answered aside (``aside``), so
    the connection's greenlet, which then iterates the stream for hours, stays shallow."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        if "text/event-stream" in environ.get("HTTP_ACCEPT", ""):  # what EventSource sends
            return aside(self.wsgi_app, environ, start_response)
        return self.wsgi_app(environ, start_response)
