"""Sending webhooks from their outbox: signed, at least once, in order per inquiry.

- **When.** A delivery row is written with its event (``services/webhook_events``).
  Right after that commit the same process sends it from a background thread
  (``send_soon``: no wait for the worker's round); the row is the record, so if the
  process dies first, the worker (``flask chat worker``: ``deliver_due``) sends it
  once its claim has expired. The worker also sends every retry.
- **Once at a time.** Sending claims the row with a conditional UPDATE (for
  ``claim_seconds``: more than a whole attempt can take); an expired claim means its
  sender died, and the next sender tries again with the same ``webhook-id``.
- **Order.** An ordered delivery waits while an earlier one for the same endpoint
  and inquiry is pending; after a success the next one of that inquiry goes at once.
- **Signed** per Standard Webhooks: ``webhook-id``, ``webhook-timestamp`` (this
  attempt's time) and ``webhook-signature`` (``v1,<base64 HMAC-SHA256 of
  "id.timestamp.body">``, one per secret: the current one, and the previous one
  during a rotation's overlap).
- **Outcome.** 2xx: delivered. Anything else (3xx included: redirects are not
  followed), a timeout, a refused or failed connection: retried after 10 s, 20 s,
  40 s, ... (at most 2 h apart, with jitter; a ``Retry-After`` is honoured) for
  ``WEBHOOK_RETRY_HOURS``, then given up. ``410 Gone``, or an endpoint whose attempts
  have all failed for ``WEBHOOK_DISABLE_AFTER_HOURS``, disables the endpoint and
  mails its site's admins.
"""

import base64
import hashlib
import hmac
import logging
import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from . import outbound
from .extensions import db
from .models import WebhookAttempt, WebhookDelivery, WebhookEndpoint, utcnow
from .services import notifications, webhooks

log = logging.getLogger(__name__)
MAX_DELAY_SECONDS = 2 * 3600
# Background sends right after a commit, at most this many at once per process (more wait for the worker).
AT_ONCE_LIMIT = 8
_at_once = threading.BoundedSemaphore(AT_ONCE_LIMIT)
WORKER_THREADS = 4


def sign(secret, webhook_id, timestamp, body):
    """``v1,<signature>`` of ``body`` (bytes) under a ``whsec_`` secret, as Standard Webhooks defines it."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def signatures(endpoint, webhook_id, timestamp, body, now):
    """The ``webhook-signature`` header: the current secret's, and the previous one's while it overlaps."""
    found = [sign(endpoint.secret, webhook_id, timestamp, body)]
    if endpoint.previous_secret and endpoint.previous_secret_until and now < endpoint.previous_secret_until:
        found.append(sign(endpoint.previous_secret, webhook_id, timestamp, body))
    return " ".join(found)


def claim_seconds(config):
    # An attempt takes at most the timeout (plus name resolution): twice that and a margin.
    return 2 * config["WEBHOOK_TIMEOUT_SECONDS"] + 5


@dataclass
class Result:
    status_code: int | None = None
    response_ms: int | None = None
    error: str | None = None
    retry_after: str | None = None

    @property
    def ok(self):
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass
class Totals:
    delivered: int = 0
    failed: int = 0


# -- which deliveries may go ------------------------------------------------------------


def _earlier_pending(delivery_table):
    """An earlier ordered delivery of the same endpoint and inquiry that is still pending."""
    earlier = sa.orm.aliased(WebhookDelivery)
    return sa.exists().where(
        earlier.endpoint_id == delivery_table.endpoint_id,
        earlier.inquiry_id == delivery_table.inquiry_id,
        earlier.status == "pending",
        earlier.ordered.is_(True),
        earlier.id < delivery_table.id,
    )


def _due(now):
    """Deliveries that may be sent now: pending, due, unclaimed, endpoint enabled, and first in their order."""
    return (
        sa.select(WebhookDelivery.id, WebhookDelivery.endpoint_id)
        .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
        .where(
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= now,
            sa.or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
            WebhookEndpoint.disabled_at.is_(None),
            sa.or_(
                WebhookDelivery.ordered.is_(False),
                WebhookDelivery.inquiry_id.is_(None),
                ~_earlier_pending(WebhookDelivery),
            ),
        )
        .order_by(WebhookDelivery.id)
    )


def _claim(delivery_id, now, config):
    """Take the delivery for one attempt if it may go now; returns it, or None."""
    db.session.rollback()  # a fresh transaction: see what other senders committed
    if db.session.execute(_due(now).where(WebhookDelivery.id == delivery_id)).first() is None:
        return None
    # Once first in its order a delivery stays first (earlier ones only finish), so the
    # check above holds; this UPDATE makes sure one sender has it.
    taken = db.session.execute(
        sa.update(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == "pending",
            sa.or_(WebhookDelivery.claimed_until.is_(None), WebhookDelivery.claimed_until < now),
        )
        .values(claimed_until=now + timedelta(seconds=claim_seconds(config)))
        .execution_options(synchronize_session=False)
    ).rowcount
    db.session.commit()
    return db.session.get(WebhookDelivery, delivery_id) if taken == 1 else None


# -- one attempt ---------------------------------------------------------------------------


def _send(delivery, config):
    endpoint = delivery.endpoint
    body = delivery.payload.encode()
    now = utcnow()
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "product-chat-webhooks/1",
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": timestamp,
        "webhook-signature": signatures(endpoint, delivery.webhook_id, timestamp, body, now),
    }
    # Read everything needed from the row first: no database work while the request runs.
    url, timeout, allow_private = endpoint.url, config["WEBHOOK_TIMEOUT_SECONDS"], config["WEBHOOK_ALLOW_PRIVATE"]
    db.session.commit()
    started = time.monotonic()
    try:
        answer = outbound.post(url, body, headers, timeout, allow_private)
    except outbound.Refused as refused:
        return Result(error=f"refused: the URL {refused}")
    except outbound.DeadlinePassed as late:
        return Result(error=f"timed out: {late}", response_ms=int((time.monotonic() - started) * 1000))
    except Exception as error:  # noqa: BLE001 - any failure of the connection is a failed attempt
        return Result(error=f"{type(error).__name__}: {error}"[:500])
    error = None
    if not 200 <= answer.status < 300:
        text = answer.body.decode("utf-8", "replace").strip()
        error = f"HTTP {answer.status}" + (f": {text}" if text else "")
        if 300 <= answer.status < 400:
            error = f"HTTP {answer.status}: redirects are not followed (give the final URL)"
    return Result(answer.status, answer.elapsed_ms, error and error[:500], answer.retry_after)


def _retry_delay(attempts, config, retry_after):
    delay = min(MAX_DELAY_SECONDS, config["WEBHOOK_FIRST_RETRY_SECONDS"] * 2 ** (attempts - 1))
    delay *= random.uniform(0.9, 1.1)  # jitter: endpoints that failed together do not retry together
    if retry_after and retry_after.strip().isdigit():
        delay = max(delay, min(MAX_DELAY_SECONDS, int(retry_after.strip())))
    return delay


def _record(delivery, result, started_at, config):
    """Write the attempt and what follows from it, in one transaction. Returns the outcome."""
    now = utcnow()
    endpoint = db.session.get(WebhookEndpoint, delivery.endpoint_id)
    if endpoint is None:
        raise sa.orm.exc.ObjectDeletedError(sa.inspect(delivery), "its endpoint was removed")
    db.session.add(
        WebhookAttempt(
            delivery_id=delivery.id,
            started_at=started_at,
            status_code=result.status_code,
            response_ms=result.response_ms,
            error=result.error,
        )
    )
    delivery.attempts += 1
    delivery.claimed_until = None
    delivery.last_status_code, delivery.last_response_ms, delivery.last_error = (
        result.status_code,
        result.response_ms,
        result.error,
    )
    if result.ok:
        delivery.status, delivery.delivered_at = "delivered", now
        endpoint.failing_since = None
        db.session.commit()
        return "delivered"
    if now - delivery.created_at >= timedelta(hours=config["WEBHOOK_RETRY_HOURS"]):
        delivery.status, delivery.failed_at = "failed", now
        log.warning("webhook delivery %s given up after %s attempts", delivery.id, delivery.attempts)
    else:
        delay = _retry_delay(delivery.attempts, config, result.retry_after)
        delivery.next_attempt_at = now + timedelta(seconds=delay)
    if endpoint.failing_since is None:
        endpoint.failing_since = started_at
    if result.status_code == 410:
        _disable(endpoint, webhooks.GONE, now)
    elif now - endpoint.failing_since >= timedelta(hours=config["WEBHOOK_DISABLE_AFTER_HOURS"]):
        hours = config["WEBHOOK_DISABLE_AFTER_HOURS"]
        _disable(endpoint, webhooks.failed_for(hours), now)
    db.session.commit()
    return "failed"


def _disable(endpoint, reason, now):
    """Stop sending to the endpoint: its pending deliveries are given up (Redeliver sends one
    again), and the admins of its site are mailed (in this transaction)."""
    if endpoint.disabled_at is not None:
        return
    endpoint.disabled_at, endpoint.disabled_reason = now, reason[:255]
    db.session.execute(
        sa.update(WebhookDelivery)
        .where(WebhookDelivery.endpoint_id == endpoint.id, WebhookDelivery.status == "pending")
        .values(status="failed", failed_at=now, claimed_until=None)
        .execution_options(synchronize_session=False)
    )
    notifications.queue_webhook_disabled(endpoint)
    log.warning("webhook endpoint %s disabled: %s", endpoint.id, reason)


def send_one(delivery_id, config=None):
    """Claim, send and record one delivery; returns "delivered", "failed", or None (not ours to send now)."""
    config = config or current_app.config
    started_at = utcnow()
    delivery = _claim(delivery_id, started_at, config)
    if delivery is None:
        return None
    result = _send(delivery, config)
    try:
        return _record(delivery, result, started_at, config)
    except (sa.orm.exc.ObjectDeletedError, sa.orm.exc.StaleDataError):
        # The endpoint was removed, or the inquiry erased, while the request ran: nothing to record.
        db.session.rollback()
        return None


def _next_in_order(delivery_id):
    """The delivery that waited for this one: the next ordered one of its endpoint and inquiry."""
    db.session.rollback()
    done = db.session.get(WebhookDelivery, delivery_id)
    if done is None or not done.ordered or done.inquiry_id is None:
        return None
    return db.session.scalar(
        sa.select(WebhookDelivery.id)
        .where(
            WebhookDelivery.endpoint_id == done.endpoint_id,
            WebhookDelivery.inquiry_id == done.inquiry_id,
            WebhookDelivery.ordered.is_(True),
            WebhookDelivery.status == "pending",
            WebhookDelivery.id > done.id,
        )
        .order_by(WebhookDelivery.id)
        .limit(1)
    )


def send_in_order(delivery_ids, totals=None, config=None):
    """Send these deliveries (of one endpoint) one by one, each followed by the ones of its
    inquiry it held back; stop at the first failure (the endpoint is likely down: the
    rest wait for their turn in the worker, instead of each waiting out a timeout now)."""
    totals = totals or Totals()
    for delivery_id in delivery_ids:
        current = delivery_id
        while current is not None:
            outcome = send_one(current, config)
            if outcome == "failed":
                totals.failed += 1
                return totals
            if outcome is None:
                break
            totals.delivered += 1
            current = _next_in_order(current)
    return totals


def _prune(config, now):
    """Forget finished deliveries older than WEBHOOK_LOG_DAYS (a bounded batch per round)."""
    old = db.session.scalars(
        sa.select(WebhookDelivery.id)
        .where(
            WebhookDelivery.status != "pending",
            WebhookDelivery.created_at < now - timedelta(days=config["WEBHOOK_LOG_DAYS"]),
        )
        .limit(500)
    ).all()
    if old:
        db.session.execute(
            sa.delete(WebhookDelivery).where(WebhookDelivery.id.in_(old)).execution_options(synchronize_session=False)
        )
    db.session.commit()


def deliver_due(limit=200):
    """The worker's round: send every due delivery, endpoints side by side (a few threads),
    each endpoint's in order. Returns ``Totals``."""
    app = current_app._get_current_object()
    now = utcnow()
    _prune(app.config, now)
    by_endpoint = {}
    for delivery_id, endpoint_id in db.session.execute(_due(now).limit(limit)).all():
        by_endpoint.setdefault(endpoint_id, []).append(delivery_id)
    db.session.commit()
    totals = Totals()
    if not by_endpoint:
        return totals
    with ThreadPoolExecutor(max_workers=min(WORKER_THREADS, len(by_endpoint))) as pool:
        for result in pool.map(lambda ids: _in_app(app, send_in_order, ids), by_endpoint.values()):
            totals.delivered += result.delivered
            totals.failed += result.failed
    return totals


def _in_app(app, function, *args):
    with app.app_context():
        try:
            return function(*args, config=app.config)
        finally:
            db.session.remove()


def send_soon(app, delivery_ids):
    """After the commit that wrote them: send these deliveries (of one endpoint, in id order)
    from a background thread of this process. With AT_ONCE_LIMIT threads busy, the worker
    sends them instead. Returns the thread, or None."""
    if not _at_once.acquire(blocking=False):
        return None

    def run():
        try:
            _in_app(app, send_in_order, sorted(delivery_ids))
        except Exception:  # noqa: BLE001 - the outbox keeps the rows: the worker sends them
            log.exception("sending webhooks %s at once failed; the worker will", delivery_ids)
        finally:
            _at_once.release()

    thread = threading.Thread(target=run, name="webhooks-at-once")
    thread.start()
    return thread
