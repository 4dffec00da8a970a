"""A Web Push service for tests: plain HTTP on a spare loopback port, answering as scripted,
and a browser's side of a subscription (its P-256 key and auth secret) to decrypt with.

``PushService(script)`` answers the n-th request with ``script[n]`` (the last entry
repeats). ``verified_claims(request, public_key)`` checks the VAPID ``Authorization``
header (RFC 8292: an ES256 JWT and the key ``k``) with ``cryptography`` alone;
``Browser.decrypt(request)`` opens the body (RFC 8291, ``aes128gcm``) with ``http_ece``.
"""

import base64
import http.server
import json
import os
import threading
import time

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Browser:
    """The keys a browser makes when it subscribes: only it can read what is pushed to it."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)

    def subscription(self, endpoint, **extra):
        public = self.key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": endpoint, "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)}, **extra}

    def decrypt(self, request):
        """The JSON payload of a push request (raises if it was not encrypted for these keys)."""
        assert request["headers"].get("Content-Encoding") == "aes128gcm"
        plain = http_ece.decrypt(request["body"], private_key=self.key, auth_secret=self.auth, version="aes128gcm")
        return json.loads(plain)


def verified_claims(request, public_key, audience):
    """The VAPID JWT's claims, once its signature checks out against ``public_key`` (base64url
    raw point) and its audience is ``audience``; raises AssertionError or InvalidSignature."""
    scheme, _, params = request["headers"]["Authorization"].partition(" ")
    assert scheme == "vapid"
    fields = dict(part.strip().split("=", 1) for part in params.split(","))
    assert fields["k"] == public_key, "signed with another key than the one browsers subscribed with"
    header_b64, claims_b64, signature_b64 = fields["t"].split(".")
    assert json.loads(unb64url(header_b64)) == {"typ": "JWT", "alg": "ES256"}
    signature = unb64url(signature_b64)
    der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
    key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(public_key))
    key.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))
    claims = json.loads(unb64url(claims_b64))
    assert claims["aud"] == audience
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    assert claims["sub"].startswith(("mailto:", "https:"))
    return claims


__all__ = ["Browser", "PushService", "verified_claims", "InvalidSignature"]


class PushService:
    def __init__(self, script=(201,), headers=None):
        self.script = list(script)
        self.extra_headers = headers or {}
        self.requests = []
        self._lock = threading.Lock()
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with service._lock:
                    index = len(service.requests)
                    service.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body, "at": time.monotonic()}
                    )
                answer = service.script[min(index, len(service.script) - 1)]
                self.send_response(answer)
                for name, value in service.extra_headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"

    def endpoint(self, name="device"):
        return f"{self.origin}/push/{name}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count, seconds=10):
        deadline = time.monotonic() + seconds
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.requests
