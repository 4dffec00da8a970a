"""Every stream's heartbeat in a process, from one ticker per heartbeat interval.

A stream that waited for its next event with a timeout made gevent build a Timeout and
a timer watcher for each wait: 7 objects for the garbage collector per idle stream, kept
until the stream's next beat while the ones of its last wait were freed. The young
generation's count stayed flat while it filled: at 10,000 idle streams the first young
collection walked 108,000 objects and stopped every stream for 60-69 ms
(docs/benchmarks.md, "Young collections full of timers"). A stream now waits with no
timeout (2 objects), and the ticker wakes the streams whose beat is due, a tick late at
most.

The ticker is a thread (a greenlet under gevent's monkey patching), started by the
first stream of a process, so a forked worker starts its own.
"""

import logging
import math
import os
import threading
import time

log = logging.getLogger(__name__)

_tickers = {}
_tickers_lock = threading.Lock()


def every(interval):
    """This process's ticker for beats ``interval`` seconds apart."""
    ticker = _tickers.get(interval)
    if ticker is None or ticker.pid != os.getpid():
        with _tickers_lock:
            ticker = _tickers.get(interval)
            if ticker is None or ticker.pid != os.getpid():
                ticker = _tickers[interval] = Ticker(interval)
    return ticker


class Ticker:
    """A timing wheel: a slot per tick, each holding the streams whose beat falls in it.

    Registering appends to a long-lived list, so a wait costs no new objects; a beat
    is at most one tick late. A tick is 1/64 of the interval: the streams of a slot beat
    together, and at 10,000 streams and 15 s a tick of an eighth woke 1,250 at once (at
    about 30 us a beat, some 40 ms for a send arriving then to wait); a 64th wakes about
    150."""

    def __init__(self, interval):
        self.pid = os.getpid()
        self.tick = max(0.005, interval / 64)
        # A round of the wheel outlasts the longest wait, so a slot holds one round's streams.
        self._slots = [[] for _ in range(math.ceil(interval / self.tick) + 3)]
        self._turned = int(time.monotonic() / self.tick) - 1  # the last tick whose slot was emptied
        self._pending = 0
        self._lock = threading.Lock()
        self._woken = threading.Event()  # set by a registration: an idle ticker turns again
        self._thread = None

    def due(self, sub, at):
        """Wake ``sub`` (``Subscription.beat``) at monotonic time ``at``."""
        with self._lock:
            tick = max(int(at / self.tick), self._turned + 1)  # never into a slot already emptied
            self._slots[tick % len(self._slots)].append(sub)
            self._pending += 1
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="stream heartbeats", daemon=True)
                self._thread.start()
        if not self._woken.is_set():
            self._woken.set()

    def _run(self):
        while True:
            try:
                self._turn()
            except Exception:  # noqa: BLE001 - a ticker that died would silence every stream's beat
                log.exception("stream heartbeats: a turn failed")

    def _turn(self):
        """Sleep a tick (or until a registration), then wake the streams now due."""
        if not self._pending:
            self._woken.clear()
            if not self._pending:
                self._woken.wait()
        time.sleep(self.tick)
        now = time.monotonic()
        # Every tick that has fully passed (a busy worker may have slept longer than one).
        with self._lock:
            first, last = self._turned + 1, int(now / self.tick) - 1
            self._turned = max(self._turned, last)
            due = []
            for tick in range(max(first, last - len(self._slots) + 1), last + 1):
                index = tick % len(self._slots)
                if self._slots[index]:
                    due.extend(self._slots[index])
                    self._slots[index] = []
            self._pending -= len(due)
        for sub in due:
            sub.beat()
