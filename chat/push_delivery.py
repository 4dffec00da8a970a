"""Sending Web Push from its outbox: VAPID-signed, encrypted per RFC 8291 (``aes128gcm``).

- **When.** A ``PushDelivery`` row is written with the customer's message
  (``services/push.py``). Right after that commit the same process sends it from a
  background thread (``send_soon``); the worker (``flask chat worker``:
  ``deliver_due``) sends what that misses (a claim that expired: its sender died)
  and every retry. A claim (conditional UPDATE) lets one sender have a row at a time.
- **The request.** pywebpush encrypts the payload for the subscription's keys; the
  ``Authorization: vapid t=<JWT>, k=<public key>`` header is signed with our VAPID key
  (py-vapid), for the endpoint's origin. ``TTL`` is ``PUSH_TTL_SECONDS``, ``Urgency``
  ``high`` for urgent inquiries (else ``normal``), ``Topic`` the inquiry (a newer push
  about it replaces one still waiting at the push service). The request itself goes
  through ``chat.outbound``: https to public addresses only (resolved at send time,
  redirects not followed) unless ``PUSH_ALLOW_PRIVATE_ENDPOINTS``.
- **Outcome.** 2xx: delivered. 404 or 410: the subscription has expired, and is
  deleted (its pending pushes with it). 429, 5xx, a timeout or a failed connection:
  retried after ``PUSH_FIRST_RETRY_SECONDS``, doubling (a ``Retry-After`` is
  honoured), until the push is older than its TTL. Anything else is given up. The
  payload (which may quote the customer) is emptied once a push is done.
"""

import base64
import logging
import os
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

import sqlalchemy as sa
from cryptography.hazmat.primitives import serialization
from flask import current_app
from py_vapid import Vapid02

from . import outbound
from .extensions import db
from .models import PushDelivery, PushSubscription, utcnow
from .services import conversations

log = logging.getLogger(__name__)
AT_ONCE_LIMIT = 8
_at_once = threading.BoundedSemaphore(AT_ONCE_LIMIT)
WORKER_THREADS = 4
MAX_DELAY_SECONDS = 600
KEY_FILE = "vapid_private_key.pem"
_vapid_cache = {}


# -- the VAPID key ------------------------------------------------------------------------


def _load_key(text):
    """A ``Vapid02`` from PEM or a base64url raw private key (what ``vapid --gen`` and most tools print)."""
    text = text.strip()
    if text.startswith("-----BEGIN"):
        return Vapid02.from_pem(text.encode())
    return Vapid02.from_string(text)


def vapid(app=None):
    """Our VAPID key: ``VAPID_PRIVATE_KEY``, else the one kept in ``instance/`` (made the first time)."""
    app = app or current_app._get_current_object()
    configured = app.config.get("VAPID_PRIVATE_KEY")
    cache_key = configured or os.path.join(app.instance_path, KEY_FILE)
    if cache_key not in _vapid_cache:
        if configured:
            _vapid_cache[cache_key] = _load_key(configured)
        else:
            _vapid_cache[cache_key] = _kept_key(cache_key)
    return _vapid_cache[cache_key]


def _kept_key(path):
    if not os.path.exists(path):
        key = Vapid02()
        key.generate_keys()
        pem = key.private_pem()
        # Exclusive create: two processes starting at once keep one key (the second reads it).
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as fh:
                fh.write(pem)
    with open(path, "rb") as fh:
        return Vapid02.from_pem(fh.read())


def _b64(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _public_of(key):
    return _b64(key.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint))


def public_key(app=None):
    """The application server key browsers subscribe with: base64url of the raw (65-byte) P-256 point."""
    return _public_of(vapid(app))


def new_private_key():
    """A new VAPID private key, as the base64url of its 32 raw bytes (for ``VAPID_PRIVATE_KEY``)."""
    key = Vapid02()
    key.generate_keys()
    return _b64(key.private_key.private_numbers().private_value.to_bytes(32, "big"))


def public_key_of(private):
    """The public key of a ``VAPID_PRIVATE_KEY`` value."""
    return _public_of(_load_key(private))


def subject(config):
    """``VAPID_SUBJECT``, else a mailto: of MAIL_FROM's address."""
    if config.get("VAPID_SUBJECT"):
        return config["VAPID_SUBJECT"]
    sender = config.get("MAIL_FROM") or "chat@localhost"
    address = sender.rsplit("<", 1)[-1].rstrip(">").strip()
    return f"mailto:{address}"


def vapid_header(endpoint, config, app=None):
    """``Authorization: vapid t=<JWT>, k=<key>`` for the endpoint's push service (valid 12 hours)."""
    parts = urlsplit(endpoint)
    claims = {"aud": f"{parts.scheme}://{parts.netloc}", "sub": subject(config), "exp": int(time.time()) + 12 * 3600}
    return vapid(app).sign(claims)["Authorization"]


# -- one attempt ---------------------------------------------------------------------------


@dataclass
class Result:
    status_code: int | None = None
    error: str | None = None
    retry_after: str | None = None

    @property
    def ok(self):
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def gone(self):
        return self.status_code in (404, 410)

    @property
    def retryable(self):
        if self.status_code is None:
            return self.error is not None and not self.error.startswith("refused")
        return self.status_code == 429 or self.status_code >= 500


@dataclass
class Totals:
    delivered: int = 0
    failed: int = 0
    dropped: int = 0


def encrypt(subscription, payload):
    """The request body: ``payload`` (bytes) encrypted for the subscription (RFC 8291, aes128gcm)."""
    # Imported here: pywebpush brings requests and aiohttp (0.6 s), which only a sender needs.
    from pywebpush import WebPusher

    info = {"endpoint": subscription.endpoint, "keys": {"p256dh": subscription.p256dh, "auth": subscription.auth}}
    return WebPusher(info).encode(payload, content_encoding="aes128gcm")["body"]


def request_for(delivery, config, app=None):
    """(url, body, headers) of the push request for this delivery."""
    subscription = delivery.subscription
    headers = {
        "Content-Type": "application/octet-stream",
        "Content-Encoding": "aes128gcm",
        "TTL": str(config["PUSH_TTL_SECONDS"]),
        "Urgency": "high" if delivery.urgent else "normal",
        "Topic": f"inquiry-{delivery.inquiry_id}" if delivery.inquiry_id else "product-chat",
        "Authorization": vapid_header(subscription.endpoint, config, app),
    }
    return subscription.endpoint, encrypt(subscription, delivery.payload.encode()), headers


def _send(delivery, config, app):
    url, body, headers = request_for(delivery, config, app)
    db.session.commit()  # no transaction held while the request runs
    try:
        answer = outbound.post(
            url, body, headers, config["PUSH_TIMEOUT_SECONDS"], config["PUSH_ALLOW_PRIVATE_ENDPOINTS"]
        )
    except outbound.Refused as refused:
        return Result(error=f"refused: the endpoint {refused}")
    except outbound.DeadlinePassed as late:
        return Result(error=f"timed out: {late}")
    except Exception as error:  # noqa: BLE001 - any failure of the connection is a failed attempt
        return Result(error=f"{type(error).__name__}: {error}"[:500])
    error = None
    if not 200 <= answer.status < 300:
        text = answer.body.decode("utf-8", "replace").strip()
        error = (f"HTTP {answer.status}" + (f": {text}" if text else ""))[:500]
    return Result(answer.status, error, answer.retry_after)


def _retry_delay(attempts, config, retry_after):
    delay = min(MAX_DELAY_SECONDS, config["PUSH_FIRST_RETRY_SECONDS"] * 2 ** (attempts - 1))
    delay *= random.uniform(0.9, 1.1)
    if retry_after and retry_after.strip().isdigit():
        delay = max(delay, min(MAX_DELAY_SECONDS, int(retry_after.strip())))
    return delay


def _record(delivery_id, result, config):
    """Write the outcome in one transaction; returns "delivered", "failed", "dropped" or "retry"."""
    now = utcnow()
    delivery = db.session.get(PushDelivery, delivery_id)
    if delivery is None:
        db.session.rollback()
        return None  # its subscription ended (or its inquiry was erased) while the request ran
    delivery.attempts += 1
    delivery.claimed_until = None
    delivery.last_status_code, delivery.last_error = result.status_code, result.error
    if result.ok:
        delivery.status, delivery.sent_at, delivery.payload = "delivered", now, ""
        if delivery.inquiry_id and delivery.message_id:
            # The push service took it for an admin's device: the customer's message is
            # delivered to the shop (its MARKS event goes out with this commit).
            conversations.mark_delivered(delivery.inquiry_id, "admin", [delivery.message_id], commit=False)
        db.session.execute(
            sa.update(PushSubscription)
            .where(PushSubscription.id == delivery.subscription_id)
            .values(last_pushed_at=now)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
        return "delivered"
    if result.gone:
        # The browser unsubscribed, or the subscription expired: it will never work again.
        subscription_id = delivery.subscription_id
        db.session.execute(sa.delete(PushSubscription).where(PushSubscription.id == subscription_id))
        db.session.commit()
        log.info("push subscription %s dropped: HTTP %s", subscription_id, result.status_code)
        return "dropped"
    delay = _retry_delay(delivery.attempts, config, result.retry_after)
    expires = delivery.created_at + timedelta(seconds=config["PUSH_TTL_SECONDS"])
    if result.retryable and now + timedelta(seconds=delay) < expires:
        delivery.next_attempt_at = now + timedelta(seconds=delay)
        db.session.commit()
        return "retry"
    delivery.status, delivery.payload = "failed", ""
    db.session.commit()
    log.warning("push %s given up: %s", delivery_id, result.error)
    return "failed"


def _due(now):
    return (
        sa.select(PushDelivery.id, PushDelivery.subscription_id)
        .where(
            PushDelivery.status == "pending",
            PushDelivery.next_attempt_at <= now,
            sa.or_(PushDelivery.claimed_until.is_(None), PushDelivery.claimed_until < now),
        )
        .order_by(PushDelivery.id)
    )


def _claim(delivery_id, now, config):
    db.session.rollback()  # a fresh transaction: see what other senders committed
    taken = db.session.execute(
        sa.update(PushDelivery)
        .where(
            PushDelivery.id == delivery_id,
            PushDelivery.status == "pending",
            PushDelivery.next_attempt_at <= now,
            sa.or_(PushDelivery.claimed_until.is_(None), PushDelivery.claimed_until < now),
        )
        .values(claimed_until=now + timedelta(seconds=2 * config["PUSH_TIMEOUT_SECONDS"] + 5))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return db.session.get(PushDelivery, delivery_id) if taken == 1 else None


def send_one(delivery_id, config=None, app=None):
    """Claim, send and record one push; returns its outcome, or None (not ours to send now)."""
    config = config or current_app.config
    delivery = _claim(delivery_id, utcnow(), config)
    if delivery is None:
        return None
    try:
        result = _send(delivery, config, app)
    except Exception as error:  # noqa: BLE001 - a subscription whose keys cannot be used
        db.session.rollback()
        result = Result(error=f"cannot encrypt for this subscription: {error}"[:500])
    return _record(delivery_id, result, config)


def _prune(now):
    """Forget finished pushes older than a day (a bounded batch per round)."""
    old = db.session.scalars(
        sa.select(PushDelivery.id)
        .where(PushDelivery.status != "pending", PushDelivery.created_at < now - timedelta(days=1))
        .limit(500)
    ).all()
    if old:
        db.session.execute(
            sa.delete(PushDelivery).where(PushDelivery.id.in_(old)).execution_options(synchronize_session=False)
        )
    db.session.commit()


def _send_all(ids, config, app):
    totals = Totals()
    for delivery_id in ids:
        outcome = send_one(delivery_id, config, app)
        if outcome == "delivered":
            totals.delivered += 1
        elif outcome in ("failed", "retry"):
            totals.failed += 1
        elif outcome == "dropped":
            totals.dropped += 1
    return totals


def _in_app(app, ids):
    with app.app_context():
        try:
            return _send_all(ids, app.config, app)
        finally:
            db.session.remove()


def deliver_due(limit=500):
    """The worker's round: send every due push, each device's in order, devices side by side
    (a few threads). Returns ``Totals``."""
    app = current_app._get_current_object()
    now = utcnow()
    _prune(now)
    by_device = {}
    for delivery_id, subscription_id in db.session.execute(_due(now).limit(limit)).all():
        by_device.setdefault(subscription_id, []).append(delivery_id)
    db.session.commit()
    totals = Totals()
    if not by_device:
        return totals
    threads = min(WORKER_THREADS, len(by_device))
    shares = [[] for _ in range(threads)]
    for index, ids in enumerate(by_device.values()):
        shares[index % threads].extend(ids)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for result in pool.map(lambda share: _in_app(app, share), shares):
            totals.delivered += result.delivered
            totals.failed += result.failed
            totals.dropped += result.dropped
    return totals


def send_soon(app, delivery_ids):
    """After the commit that wrote them: send these pushes from a background thread of this
    process. With AT_ONCE_LIMIT threads busy, the worker sends them instead. Returns the thread."""
    if not _at_once.acquire(blocking=False):
        return None

    def run():
        try:
            _in_app(app, sorted(delivery_ids))
        except Exception:  # noqa: BLE001 - the outbox keeps the rows: the worker sends them
            log.exception("sending pushes %s at once failed; the worker will", delivery_ids)
        finally:
            _at_once.release()

    thread = threading.Thread(target=run, name="push-at-once")
    thread.start()
    return thread
