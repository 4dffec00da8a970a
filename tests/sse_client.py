"""A small SSE reader over real HTTP, for tests: events land in a queue."""

import http.client
import queue
import socket
import threading
import time
from urllib.parse import urlsplit


class Event:
    def __init__(self, type_, data, id_):
        self.type, self.data, self.id = type_, data, id_
        self.at = time.monotonic()  # when it arrived (benchmarks)

    def __repr__(self):
        return f"Event({self.type!r}, id={self.id!r}, {self.data[:40]!r})"


class SSEClient:
    def __init__(self, url, headers=None, timeout=30):
        parts = urlsplit(url)
        self.conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
        path = parts.path + ("?" + parts.query if parts.query else "")
        self.conn.request("GET", path, headers={"Accept": "text/event-stream", **(headers or {})})
        self.response = self.conn.getresponse()
        self.status = self.response.status
        self.headers = dict(self.response.getheaders())
        self.events = queue.Queue()
        self.comments = queue.Queue()
        self.closed = threading.Event()
        self._thread = threading.Thread(target=self._read, daemon=True)
        if self.status == 200:
            self._thread.start()

    def _read(self):
        type_, data, id_ = "message", [], None
        try:
            while True:
                raw = self.response.fp.readline()
                if not raw:
                    break
                line = raw.decode().rstrip("\n").rstrip("\r")
                if line == "":
                    if data:
                        self.events.put(Event(type_, "\n".join(data), id_))
                    type_, data, id_ = "message", [], None
                elif line.startswith(":"):
                    self.comments.put(line)
                else:
                    field, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if field == "event":
                        type_ = value
                    elif field == "data":
                        data.append(value)
                    elif field == "id":
                        id_ = value
        except (OSError, ValueError, AttributeError):
            pass
        finally:
            self.closed.set()

    def next(self, timeout=10):
        return self.events.get(timeout=timeout)

    def collect(self, until, timeout=15):
        """Events until ``until(events)`` holds; AssertionError on timeout."""
        got = []
        deadline = time.monotonic() + timeout
        while not until(got):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out; got {got}")
            try:
                got.append(self.events.get(timeout=remaining))
            except queue.Empty:
                raise AssertionError(f"timed out; got {got}") from None
        return got

    def close(self):
        # The socket first: the reader thread may be blocked in readline (the server ended
        # the response but keeps the connection alive), holding the buffer that closing
        # the response waits for; that would take the socket's whole timeout.
        try:
            self.conn.sock and self.conn.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self.response.close()
            self.conn.sock and self.conn.sock.close()
            self.conn.close()
        except OSError:
            pass


def message_ids(events):
    return [int(e.id) for e in events if e.type == "message"]
