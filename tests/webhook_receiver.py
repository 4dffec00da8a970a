"""A webhook receiver for tests: plain HTTP on a spare loopback port, answering as scripted.

``Receiver(script)`` answers the n-th request with ``script[n]`` (the last entry repeats):
a status code, or ``"hang"`` (no answer until the test ends). Every request is kept
(path, headers, body, time) and can be checked with the ``standardwebhooks`` library.
"""

import http.server
import threading
import time

import standardwebhooks


class Receiver:
    def __init__(self, script=(200,), headers=None):
        self.script = list(script)
        self.extra_headers = headers or {}
        self.requests = []
        self.release = threading.Event()
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    index = len(receiver.requests)
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body, "at": time.monotonic()}
                    )
                answer = receiver.script[min(index, len(receiver.script) - 1)]
                if answer == "hang":
                    receiver.release.wait(60)
                    return
                self.send_response(answer)
                for name, value in receiver.extra_headers.items():
                    self.send_header(name, value)
                text = b"thanks" if answer < 300 else b"receiver says no"
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/hooks"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count, seconds=10):
        """Wait until ``count`` requests arrived; returns them."""
        deadline = time.monotonic() + seconds
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.requests

    def verified(self, secret, request=None):
        """The JSON payload of ``request`` (default: the last), verified with the Standard Webhooks
        reference library: raises ``WebhookVerificationError`` if the signature does not match."""
        request = request or self.requests[-1]
        return standardwebhooks.Webhook(secret).verify(request["body"], request["headers"])

    def events(self, secret):
        """Every request's event type, each verified."""
        return [self.verified(secret, r)["type"] for r in self.requests]
