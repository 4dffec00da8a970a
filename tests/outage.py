"""Our server down for a browser: every request the pages of a context make to it is
counted and, while the outage lasts, refused; the server itself is stopped, so open
streams end as they would. The pages run on Playwright's fake clock and time moves in
small steps, with a moment of real time after each for the refused requests to come
back: a minute of backoff costs seconds, and the timers fire as they would have.
"""

import re
import urllib.request
from urllib.parse import urlsplit

# Counts the timers a frame has pending (wrapping the fake clock's own functions).
COUNT_TIMERS = """(() => {
  const pending = new Set(), intervals = new Set();
  const setT = window.setTimeout, clearT = window.clearTimeout;
  const setI = window.setInterval, clearI = window.clearInterval;
  window.setTimeout = function (fn, ms, ...args) {
    const id = setT.call(window, function () {
      pending.delete(id);
      if (typeof fn === "function") return fn.apply(this, args);
    }, ms);
    pending.add(id);
    return id;
  };
  window.clearTimeout = function (id) { pending.delete(id); return clearT.call(window, id); };
  window.setInterval = function (...args) { const id = setI.apply(window, args); intervals.add(id); return id; };
  window.clearInterval = function (id) { intervals.delete(id); return clearI.call(window, id); };
  window.__pendingTimers = () => pending.size + intervals.size;
})();"""


class Outage:
    def __init__(self, context, server, cached=()):
        """``cached``: paths the browser's cache would still serve while the server is down
        (Playwright turns the cache off while it routes requests)."""
        self.server = server
        self.down = False
        self.elapsed = 0.0  # seconds of fake time since the outage began
        self.requests = []  # (second of the outage, page, "METHOD url") for each request while down
        self.cache = {path: urllib.request.urlopen(server.url + path, timeout=10).read() for path in cached}
        context.clock.install()
        context.add_init_script(COUNT_TIMERS)
        context.route(re.compile("^" + re.escape(server.url) + "/"), self._route)

    def _route(self, route):
        if not self.down:
            route.continue_()
            return
        request = route.request
        path = urlsplit(request.url).path
        if path in self.cache:
            route.fulfill(body=self.cache[path], content_type="text/javascript")
            return
        self.requests.append((self.elapsed, request.frame.page, f"{request.method} {request.url}"))
        route.abort("connectionrefused")

    def begin(self, page):
        """Stop the clock, then the server: from now on nothing reaches it."""
        page.clock.pause_at(page.evaluate("Date.now()") + 100)
        self.down = True
        self.server.stop()
        self.elapsed = 0.0
        self.requests = []

    def end(self):
        """The server is back."""
        self.server.start()
        self.down = False

    def run(self, page, seconds, until=None, step=0.5, most=1000):
        """Move the fake clock on by ``seconds`` (less if ``until()`` comes true, or once
        more than ``most`` requests were refused: a storm); says whether ``until`` came."""
        for _ in range(round(seconds / step)):
            page.clock.run_for(int(step * 1000))
            page.wait_for_timeout(30)  # real time: refused requests come back, their handlers run
            self.elapsed += step
            if until is not None and until():
                return True
            if len(self.requests) > most:
                break
        return False

    def of(self, page):
        """The requests refused to one page (a tab: its frames included)."""
        return [(at, what) for at, made_by, what in self.requests if made_by == page]

    def per_window(self, page, seconds=10, until=60):
        """Requests refused to a page in each ``seconds`` of the outage's first ``until`` seconds."""
        counts = [0] * int(until // seconds)
        for at, _ in self.of(page):
            if at < until:
                counts[int(at // seconds)] += 1
        return counts


def pending_timers(frame):
    return frame.evaluate("window.__pendingTimers ? window.__pendingTimers() : -1")
