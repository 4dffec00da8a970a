"""Configuration classes, read from the environment.

Every setting is documented in README.md ("Settings"). Pick a class with
``chat.create_app("development" | "testing" | "production")``.
"""

import os

basedir = os.path.abspath(os.path.dirname(__file__))


def _bool(name, default):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name, default):
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


class Config:
    SECRET_KEY = os.environ.get("SECRET_KEY")
    SQLALCHEMY_DATABASE_URI = os.environ.get("DATABASE_URL") or (
        "sqlite:///" + os.path.join(basedir, "instance", "chat.sqlite")
    )
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    # Unset means the in-process broker: one process, no Redis needed.
    REDIS_URL = os.environ.get("REDIS_URL") or None

    # Chat behaviour
    CHAT_MAX_MESSAGE_LENGTH = _int("CHAT_MAX_MESSAGE_LENGTH", 2000)
    CHAT_PAGE_SIZE = _int("CHAT_PAGE_SIZE", 30)
    CHAT_SESSION_DAYS = _int("CHAT_SESSION_DAYS", 365)
    # How long a shop's signature of a logged-in customer stays valid.
    CHAT_IDENTITY_MAX_AGE_SECONDS = _int("CHAT_IDENTITY_MAX_AGE_SECONDS", 86400)
    # How long the link in an answer mail works (once).
    CHAT_RESUME_LINK_HOURS = _int("CHAT_RESUME_LINK_HOURS", 72)
    ADMIN_PAGE_SIZE = _int("ADMIN_PAGE_SIZE", 50)
    MAX_CONTENT_LENGTH = _int("MAX_CONTENT_LENGTH", 64 * 1024)

    # Attachments: files a shopper or an admin sends with a message (chat/services/attachments.py).
    CHAT_ATTACHMENT_MAX_BYTES = _int("CHAT_ATTACHMENT_MAX_BYTES", 10 * 1024 * 1024)
    CHAT_ATTACHMENTS_PER_MESSAGE = _int("CHAT_ATTACHMENTS_PER_MESSAGE", 5)
    # Per shopper session, over a rolling hour.
    CHAT_ATTACHMENT_FILES_PER_HOUR = _int("CHAT_ATTACHMENT_FILES_PER_HOUR", 60)
    CHAT_ATTACHMENT_BYTES_PER_HOUR = _int("CHAT_ATTACHMENT_BYTES_PER_HOUR", 200 * 1024 * 1024)
    # How long a signed attachment URL works.
    CHAT_ATTACHMENT_URL_SECONDS = _int("CHAT_ATTACHMENT_URL_SECONDS", 900)
    # Larger photos are scaled down to this many pixels on their long side; thumbnails to 480.
    CHAT_IMAGE_MAX_SIDE = _int("CHAT_IMAGE_MAX_SIDE", 4096)
    # Images decoded and encoded at once per worker (off the gevent loop).
    CHAT_IMAGE_THREADS = _int("CHAT_IMAGE_THREADS", 2)
    # "local": a folder (ATTACHMENT_FOLDER, default instance/attachments); "s3": an S3-compatible bucket.
    ATTACHMENT_STORAGE = os.environ.get("ATTACHMENT_STORAGE", "local")
    ATTACHMENT_FOLDER = os.environ.get("ATTACHMENT_FOLDER") or None
    S3_BUCKET = os.environ.get("S3_BUCKET") or None
    S3_ENDPOINT_URL = os.environ.get("S3_ENDPOINT_URL") or None
    S3_REGION = os.environ.get("S3_REGION") or None
    S3_ACCESS_KEY_ID = os.environ.get("S3_ACCESS_KEY_ID") or None
    S3_SECRET_ACCESS_KEY = os.environ.get("S3_SECRET_ACCESS_KEY") or None
    # Stored objects no row names are deleted by the sweep once older than this (uploads in flight are younger).
    ATTACHMENT_ORPHAN_MINUTES = _int("ATTACHMENT_ORPHAN_MINUTES", 60)

    # Live delivery
    SSE_ENABLED = _bool("SSE_ENABLED", True)
    SSE_HEARTBEAT_SECONDS = float(os.environ.get("SSE_HEARTBEAT_SECONDS", 15))
    SSE_RETRY_MS = _int("SSE_RETRY_MS", 2000)
    # Streams' delivered marks are stored in one transaction per this many seconds
    # (sooner once DELIVERED_FLUSH_MARKS wait): chat/live/delivered.py.
    DELIVERED_FLUSH_SECONDS = float(os.environ.get("DELIVERED_FLUSH_SECONDS", 0.2))
    DELIVERED_FLUSH_MARKS = _int("DELIVERED_FLUSH_MARKS", 500)
    CHAT_POLL_SECONDS = float(os.environ.get("CHAT_POLL_SECONDS", 4))
    TYPING_TTL_SECONDS = float(os.environ.get("TYPING_TTL_SECONDS", 6))
    LIVE_CHANNEL_PREFIX = os.environ.get("LIVE_CHANNEL_PREFIX", "chat:")
    LIVE_STATS_ENABLED = _bool("LIVE_STATS_ENABLED", False)
    # SSUBSCRIBE/SPUBLISH (Redis 7 sharded pub/sub, for Redis Cluster) instead of SUBSCRIBE/PUBLISH.
    REDIS_SHARDED_PUBSUB = _bool("REDIS_SHARDED_PUBSUB", False)
    # REDIS_URL names nodes of a Redis Cluster (redis://host:port[,host:port...]): the broker
    # uses sharded pub/sub with one subscriber connection per master, rate limits the cluster.
    REDIS_CLUSTER = _bool("REDIS_CLUSTER", False)
    # "pushpin": shoppers' streams are held by Pushpin in front (chat/live/grip.py, deploy/pushpin/).
    LIVE_PROXY = os.environ.get("LIVE_PROXY") or None
    PUSHPIN_SIG_KEY = os.environ.get("PUSHPIN_SIG_KEY") or None  # pushpin.conf's sig_key: Grip-Sig verifies with it
    PUSHPIN_SIG_ISS = os.environ.get("PUSHPIN_SIG_ISS", "pushpin")
    # Pushpin's publish endpoint(s), comma-separated (one per Pushpin instance).
    PUSHPIN_PUBLISH_URL = os.environ.get("PUSHPIN_PUBLISH_URL", "http://127.0.0.1:5561/publish/")
    # How often Pushpin asks a held stream's catch-up without a gap: practically never by default
    # (Pushpin's 120 s, or even an hour, at 10 such requests a second per Pushpin, cannot keep up
    # with 100,000 streams). At most 2,000,000 (Pushpin counts it in int milliseconds).
    PUSHPIN_RECOVER_SECONDS = min(_int("PUSHPIN_RECOVER_SECONDS", 2_000_000), 2_000_000)

    # Email (SMTP)
    MAIL_SERVER = os.environ.get("MAIL_SERVER", "127.0.0.1")
    MAIL_PORT = _int("MAIL_PORT", 25)
    MAIL_USERNAME = os.environ.get("MAIL_USERNAME") or None
    MAIL_PASSWORD = os.environ.get("MAIL_PASSWORD") or None
    MAIL_USE_TLS = _bool("MAIL_USE_TLS", False)
    MAIL_FROM = os.environ.get("MAIL_FROM", "Product chat <chat@localhost>")
    MAIL_MAX_ATTEMPTS = _int("MAIL_MAX_ATTEMPTS", 8)
    NOTIFY_UNANSWERED_MINUTES = _int("NOTIFY_UNANSWERED_MINUTES", 30)
    NOTIFY_CUSTOMER_UNREAD_MINUTES = _int("NOTIFY_CUSTOMER_UNREAD_MINUTES", 15)
    # Answer by email: mails about an inquiry carry Reply-To reply+<token>@MAIL_REPLY_DOMAIN,
    # and replies to it come back in (`flask chat mail-in`, POST /api/inbound/email).
    # Unset: no Reply-To and no mail-in.
    MAIL_REPLY_DOMAIN = (os.environ.get("MAIL_REPLY_DOMAIN") or "").strip().lower() or None
    MAIL_REPLY_DAYS = _int("MAIL_REPLY_DAYS", 30)
    # The mail provider's inbound webhook sends it as Authorization: Bearer <secret>.
    INBOUND_EMAIL_SECRET = os.environ.get("INBOUND_EMAIL_SECRET") or None
    # The largest inbound mail, in bytes (the webhook's body, the SMTP server's DATA).
    INBOUND_EMAIL_MAX_BYTES = _int("INBOUND_EMAIL_MAX_BYTES", 10 * 1024 * 1024)
    # Who we are: every absolute link and our own origin come from here, never from Host.
    PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000")
    # Proxies in front of us whose X-Forwarded-For/-Proto we believe (0: none).
    TRUSTED_PROXY_COUNT = _int("TRUSTED_PROXY_COUNT", 0)

    # Webhooks (chat/webhook_delivery.py): https to public addresses only, unless this is
    # set (tests and development, to reach a receiver on this machine).
    WEBHOOK_ALLOW_PRIVATE = _bool("WEBHOOK_ALLOW_PRIVATE", False)
    WEBHOOK_TIMEOUT_SECONDS = float(os.environ.get("WEBHOOK_TIMEOUT_SECONDS", 10))
    # A failed delivery is retried with exponential backoff (from the first delay,
    # doubling up to 2 hours) for at least this long, then given up.
    WEBHOOK_RETRY_HOURS = float(os.environ.get("WEBHOOK_RETRY_HOURS", 24))
    WEBHOOK_FIRST_RETRY_SECONDS = float(os.environ.get("WEBHOOK_FIRST_RETRY_SECONDS", 10))
    # An endpoint whose attempts have all failed for this long is disabled (its site's admins are mailed).
    WEBHOOK_DISABLE_AFTER_HOURS = float(os.environ.get("WEBHOOK_DISABLE_AFTER_HOURS", 72))
    # After "Rotate secret" the old secret signs too for this long.
    WEBHOOK_SECRET_OVERLAP_HOURS = float(os.environ.get("WEBHOOK_SECRET_OVERLAP_HOURS", 24))
    # Send a new event right after its commit (the outbox keeps it for the worker if that fails).
    WEBHOOK_DELIVER_AT_ONCE = _bool("WEBHOOK_DELIVER_AT_ONCE", True)
    # Delivered and given-up deliveries (the panel's log) are kept this long.
    WEBHOOK_LOG_DAYS = _int("WEBHOOK_LOG_DAYS", 30)

    # Web Push to admins' devices (chat/push_delivery.py). VAPID_PRIVATE_KEY: the application
    # server's key (base64url raw P-256 key or PEM); unset, one is made and kept in
    # instance/vapid_private_key.pem. VAPID_SUBJECT: how push services reach us (mailto: or https:).
    VAPID_PRIVATE_KEY = os.environ.get("VAPID_PRIVATE_KEY") or None
    VAPID_SUBJECT = os.environ.get("VAPID_SUBJECT") or None
    # Push endpoints must be https and public; true (tests, development) also allows http://127.0.0.1.
    PUSH_ALLOW_PRIVATE_ENDPOINTS = _bool("PUSH_ALLOW_PRIVATE_ENDPOINTS", False)
    # How long a push service keeps an undelivered push (its TTL header); retries stop then too.
    PUSH_TTL_SECONDS = _int("PUSH_TTL_SECONDS", 3600)
    PUSH_TIMEOUT_SECONDS = float(os.environ.get("PUSH_TIMEOUT_SECONDS", 10))
    # On 429 or 5xx: retried after this, doubling (a Retry-After is honoured).
    PUSH_FIRST_RETRY_SECONDS = float(os.environ.get("PUSH_FIRST_RETRY_SECONDS", 5))
    # Send a push right after its commit (the worker sends what that misses, and retries).
    PUSH_DELIVER_AT_ONCE = _bool("PUSH_DELIVER_AT_ONCE", True)

    # Shared limits across workers when Redis is there; per process otherwise.
    # With REDIS_CLUSTER, REDIS_URL's cluster (redis+cluster://, see chat/__init__.py).
    RATELIMIT_STORAGE_URI = os.environ.get("RATELIMIT_STORAGE_URI") or os.environ.get("REDIS_URL") or "memory://"
    RATELIMIT_ENABLED = _bool("RATELIMIT_ENABLED", True)
    # Redis down must not stop sends: limits fall back to per-process memory
    # (and go back to Redis once it answers); a failure in the limiter's
    # bookkeeping after the view ran is logged, never a 500 for a stored message.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    RATELIMIT_SWALLOW_ERRORS = True
    # Retry-After (and X-RateLimit-*) on limited routes, so clients know when to retry.
    RATELIMIT_HEADERS_ENABLED = True
    CHAT_SEND_RATE_LIMIT = os.environ.get("CHAT_SEND_RATE_LIMIT", "30/minute")
    # Abuse limits per IP address: new chat sessions, new conversations.
    CHAT_NEW_SESSIONS_PER_IP = os.environ.get("CHAT_NEW_SESSIONS_PER_IP", "20/minute;200/hour")
    CHAT_NEW_INQUIRIES_PER_IP = os.environ.get("CHAT_NEW_INQUIRIES_PER_IP", "10/minute;60/hour")
    CHAT_TYPING_RATE_LIMIT = os.environ.get("CHAT_TYPING_RATE_LIMIT", "40/minute")
    # Past this many urgent-question mails to one admin in an hour, one digest.
    CHAT_URGENT_MAILS_PER_HOUR = _int("CHAT_URGENT_MAILS_PER_HOUR", 10)
    # Privacy: resolved or closed inquiries older than this are purged.
    CHAT_RETENTION_DAYS = _int("CHAT_RETENTION_DAYS", 365)
    # The audit log keeps entries this many days; `flask chat purge` removes older ones.
    AUDIT_RETENTION_DAYS = _int("AUDIT_RETENTION_DAYS", 400)
    # How long an invitation link works.
    INVITATION_DAYS = _int("INVITATION_DAYS", 7)
    # Failed admin logins (and wrong current passwords) allowed per account and per IP.
    LOGIN_FAILURES_PER_ACCOUNT = os.environ.get("LOGIN_FAILURES_PER_ACCOUNT", "5/15 minutes")
    LOGIN_FAILURES_PER_IP = os.environ.get("LOGIN_FAILURES_PER_IP", "20/15 minutes")
    # An admin session unused this long has ended (also the longest "Keep me logged in" lasts idle).
    ADMIN_SESSION_IDLE_DAYS = _int("ADMIN_SESSION_IDLE_DAYS", 30)

    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True


def engine_options(uri):
    # MySQL drops idle connections (wait_timeout); pre-ping and recycle
    # keep a long-lived pool from handing out dead ones.
    # The timeouts make a dead or unreachable server fail fast (a 503, see
    # chat/errors.py) instead of holding a request for minutes.
    if uri.startswith("mysql"):
        connect_args = {"connect_timeout": _int("DATABASE_TIMEOUT_SECONDS", 2)}
        # Read/write timeouts only where set: gunicorn.conf.py sets one for the web
        # server, so a hung server cannot hold requests; the CLI's long jobs
        # (migrations, purge) are not cut off.
        query_timeout = _int("DATABASE_QUERY_TIMEOUT_SECONDS", 0)
        if query_timeout > 0:
            connect_args.update(read_timeout=query_timeout, write_timeout=query_timeout)
        return {
            "pool_pre_ping": True,
            "pool_recycle": 280,
            "pool_timeout": _int("DATABASE_POOL_TIMEOUT_SECONDS", 5),
            "connect_args": connect_args,
        }
    return {}


def workers_refused(workers, config_name):
    """Why ``workers`` worker processes cannot serve configuration ``config_name``, or None.

    Several workers need a database server and Redis: SQLite's one writer makes
    the other workers' requests and stream opens wait on its lock, and the
    in-process broker reaches only the streams of its own worker (a message sent
    through one worker never shows live in a tab held by another).
    """
    config = configs.get(config_name)
    if workers <= 1 or config is None:
        return None
    fix = "run one worker (WEB_CONCURRENCY=1), or set DATABASE_URL to MariaDB/MySQL and REDIS_URL"
    if config.SQLALCHEMY_DATABASE_URI.startswith("sqlite"):
        return (
            f"{workers} workers on SQLite: it serves one process (its one writer lock stalls the others' "
            f"requests and stream opens, and live messages cannot cross workers); {fix}."
        )
    if not config.REDIS_URL:
        return (
            f"{workers} workers without REDIS_URL: the in-process broker cannot reach the other "
            f"workers' live streams; {fix}."
        )
    return None


def limiter_storage_options(uri):
    # redis-py retries with backoff by default: seconds per request while Redis
    # is down before the limiter gives up on it and falls back to memory.
    if uri.startswith(("redis", "rediss")):
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        return {"socket_connect_timeout": 1, "socket_timeout": 1, "retry": Retry(NoBackoff(), 0)}
    return {}


class DevelopmentConfig(Config):
    DEBUG = False  # the reloader would double the SSE broker; use FLASK_DEBUG
    DEMO = True
    # The demo answers by email through its own catcher (`flask chat reply-to-mail`);
    # INBOUND_EMAIL_SECRET unset: a random one kept in instance/ (chat/__init__.py).
    MAIL_REPLY_DOMAIN = Config.MAIL_REPLY_DOMAIN or "reply.localhost"


class TestingConfig(Config):
    TESTING = True
    SECRET_KEY = "testing-secret-key"
    SQLALCHEMY_DATABASE_URI = "sqlite://"
    REDIS_URL = None
    WTF_CSRF_ENABLED = True
    RATELIMIT_ENABLED = False
    SSE_HEARTBEAT_SECONDS = 15.0
    # Tests hash hundreds of passwords: a cheap hash there, production's scrypt everywhere else
    # (a login checks whatever method a stored hash names).
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"


class ProductionConfig(Config):
    SESSION_COOKIE_SECURE = _bool("SESSION_COOKIE_SECURE", True)
    REMEMBER_COOKIE_SECURE = SESSION_COOKIE_SECURE
    PREFERRED_URL_SCHEME = "https"


configs = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}
