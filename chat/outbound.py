"""Requests to addresses a shop chose (webhook endpoints): https to public addresses only.

An endpoint's URL is checked when it is saved (``check_url``) and again at every
request (``post``): the host name is resolved then, every address it resolves to
must be public (not loopback, private, link-local such as a cloud's metadata
service, shared, multicast or reserved), and the connection goes to the address
that was checked, so a DNS answer that changes in between (rebinding) cannot
reach inside. TLS still checks the certificate against the host name (SNI). No
proxy from the environment is used, redirects are never followed, and the whole
request (connect, send, answer) is cut at one deadline.

``allow_private`` (``WEBHOOK_ALLOW_PRIVATE``: tests and development) lifts the
address rule and allows plain http, nothing else.
"""

import ipaddress
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from flask_babel import gettext
from urllib3.connection import HTTPConnection, HTTPSConnection

# What we keep of an answer's body (the panel's log shows its start).
KEPT_BYTES = 200


class Refused(Exception):
    """The URL may not be called: a scheme or an address the rules do not allow."""


@dataclass
class Answer:
    status: int
    elapsed_ms: int
    body: bytes
    retry_after: str | None


def is_public(address):
    """Whether an ``ipaddress`` address is reachable on the public internet and nothing else."""
    if address.version == 6:
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is not None:
            return is_public(embedded)
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified)


def check_url(url, allow_private=False):
    """``url`` split, if its form may be called: https (or http with ``allow_private``), a host,
    no user name or password, no fragment, and a host that is not a private address or
    ``localhost``. Raises ``Refused`` naming what is wrong. (Names are resolved at send time.)"""
    if not isinstance(url, str) or any(c.isspace() or ord(c) < 32 for c in url):
        raise Refused(gettext("not a URL (no spaces or control characters)"))
    parts = urlsplit(url)
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise Refused(gettext("must start with https://"))
    try:
        parts.port  # noqa: B018 - raises ValueError on a port that is not a number in range
    except ValueError:
        raise Refused(gettext("has a port that is not a number from 1 to 65535")) from None
    if not parts.hostname:
        raise Refused(gettext("has no host name"))
    if parts.username is not None or parts.password is not None:
        raise Refused(gettext("must not carry a user name or password"))
    if parts.fragment:
        raise Refused(gettext("must not have a #fragment"))
    if not allow_private:
        if parts.hostname == "localhost" or parts.hostname.endswith(".localhost"):
            raise Refused(gettext("must be a public address, not localhost"))
        try:
            literal = ipaddress.ip_address(parts.hostname)
        except ValueError:
            literal = None
        if literal is not None and not is_public(literal):
            raise Refused(gettext("must be a public address (%(address)s is not)", address=literal))
    return parts


def _resolve(host, port, allow_private):
    """The address to connect to: the first of the host's addresses, all of which must be public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise Refused(gettext("the host name does not resolve (%(error)s)", error=error.strerror)) from None
    addresses = [ipaddress.ip_address(info[4][0].split("%", 1)[0]) for info in infos]
    if not addresses:
        raise Refused(gettext("the host name has no address"))
    if not allow_private:
        private = [str(a) for a in addresses if not is_public(a)]
        if private:
            raise Refused(
                gettext("the host name resolves to an address that is not public (%(address)s)", address=private[0])
            )
    return str(addresses[0])


def _cut(connection):
    """The deadline passed: end the connection's socket, which wakes a read blocked on it."""
    sock = getattr(connection, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


class DeadlinePassed(TimeoutError):
    pass


def post(url, body, headers, timeout, allow_private=False):
    """POST ``body`` to ``url`` under the rules above; returns an ``Answer`` whatever its status.

    Raises ``Refused`` (the URL or its addresses are not allowed), ``DeadlinePassed``
    (no complete answer within ``timeout`` seconds) or ``OSError`` and urllib3's
    errors (the connection failed).
    """
    parts = check_url(url, allow_private)
    secure = parts.scheme == "https"
    port = parts.port or (443 if secure else 80)
    started = time.monotonic()
    address = _resolve(parts.hostname, port, allow_private)
    remaining = max(0.1, timeout - (time.monotonic() - started))
    if secure:
        # The pinned address is dialled; SNI and the certificate check use the name.
        connection = HTTPSConnection(
            address, port, timeout=remaining, server_hostname=parts.hostname, assert_hostname=parts.hostname
        )
    else:
        connection = HTTPConnection(address, port, timeout=remaining)
    watchdog = threading.Timer(remaining, _cut, args=(connection,))
    watchdog.daemon = True
    watchdog.start()
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        connection.request("POST", path, body=body, headers={"Host": parts.netloc, **headers}, preload_content=False)
        response = connection.getresponse()
        kept = response.read(KEPT_BYTES, decode_content=False) if response.status >= 300 else b""
        status, retry_after = response.status, response.headers.get("Retry-After")
    except Exception:
        if time.monotonic() - started >= timeout:
            raise DeadlinePassed(f"no answer within {timeout:g} s") from None
        raise
    finally:
        watchdog.cancel()
        connection.close()
    if time.monotonic() - started >= timeout:
        raise DeadlinePassed(f"no answer within {timeout:g} s")
    return Answer(status, int((time.monotonic() - started) * 1000), kept, retry_after)
