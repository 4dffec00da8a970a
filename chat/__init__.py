"""Product chat: the application factory."""

import os
import secrets

from flask import Flask
from sqlalchemy import event
from sqlalchemy.engine import Engine

from . import live
from .extensions import csrf, db, limiter, login_manager, migrate

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir))


def _load_config(app, config_name_or_object):
    import config as config_module

    if config_name_or_object is None:
        config_name_or_object = os.environ.get("CHAT_CONFIG", "development")
    if isinstance(config_name_or_object, str):
        try:
            config_name_or_object = config_module.configs[config_name_or_object]
        except KeyError:
            raise RuntimeError(
                f"unknown configuration {config_name_or_object!r}; use one of {sorted(config_module.configs)}"
            ) from None
    if isinstance(config_name_or_object, dict):
        app.config.from_object(config_module.configs["development"])
        app.config.update(config_name_or_object)
    else:
        app.config.from_object(config_name_or_object)


def _check_live_proxy(app):
    if app.config.get("LIVE_PROXY") not in (None, "pushpin"):
        raise RuntimeError(f"LIVE_PROXY={app.config['LIVE_PROXY']!r}: unset or 'pushpin'")
    if app.config.get("LIVE_PROXY") and not app.config.get("PUSHPIN_SIG_KEY"):
        raise RuntimeError(
            "LIVE_PROXY=pushpin needs PUSHPIN_SIG_KEY (pushpin.conf's sig_key): Grip-Sig is verified with it."
        )


def _ensure_secret_key(app):
    if app.config.get("SECRET_KEY"):
        return
    if not app.config.get("DEMO") and not app.testing:
        raise RuntimeError(
            "SECRET_KEY is not set. Production refuses to start without it: export SECRET_KEY to a long random value."
        )
    # Development: keep one random key under instance/ so customer sessions
    # (and their chat history) survive restarts.
    app.config["SECRET_KEY"] = _kept_secret(app, "secret_key")


def _kept_secret(app, name):
    """A random value kept in ``instance/<name>``, made the first time (development only)."""
    path = os.path.join(app.instance_path, name)
    if not os.path.exists(path):
        with open(path, "w") as fh:
            fh.write(secrets.token_hex(32))
    with open(path) as fh:
        return fh.read().strip()


def _ensure_inbound_secret(app):
    # The demo's `flask chat reply-to-mail` posts to the web server's inbound webhook:
    # both processes read the same kept secret.
    if app.config.get("DEMO") and not app.config.get("INBOUND_EMAIL_SECRET"):
        app.config["INBOUND_EMAIL_SECRET"] = _kept_secret(app, "inbound_email_secret")


def _trust_proxies(app):
    """Behind ``TRUSTED_PROXY_COUNT`` proxies, take the client's address and scheme from the
    last that many ``X-Forwarded-For``/``-Proto`` entries (Werkzeug's ProxyFix); with 0,
    trust none. ``Host`` and ``X-Forwarded-Host`` never decide who we are: links come from
    ``PUBLIC_BASE_URL`` and each site's listed origins."""
    count = app.config.get("TRUSTED_PROXY_COUNT", 0)
    if count:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=0, x_port=0, x_prefix=0)


@event.listens_for(Engine, "connect")
def _sqlite_foreign_keys(dbapi_connection, connection_record):
    # SQLite ignores ON DELETE CASCADE / SET NULL unless asked per connection.
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def create_app(config_name_or_object=None):
    app = Flask(
        __name__,
        instance_path=os.path.join(ROOT, "instance"),
        template_folder=os.path.join(ROOT, "templates"),
        static_folder=os.path.join(ROOT, "static"),
    )
    from .templating import Environment

    app.jinja_environment = Environment  # before anything makes app.jinja_env
    _load_config(app, config_name_or_object)
    from . import cookieless

    app.session_interface = cookieless.SessionInterface()  # no Vary: Cookie on what is the same for everyone
    os.makedirs(app.instance_path, exist_ok=True)
    _ensure_secret_key(app)
    _check_live_proxy(app)
    _ensure_inbound_secret(app)
    from . import compression

    compression.init_app(app)  # first: its after_request hook runs last, on the finished response
    import config as config_module

    from . import circuit_breaker

    uri = app.config["SQLALCHEMY_DATABASE_URI"]
    # A database server that fails answers 503 at once after its first timeout (chat/circuit_breaker.py).
    options = app.config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", config_module.engine_options(uri))
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = circuit_breaker.engine_options(uri, options)

    if app.config.get("REDIS_CLUSTER") and app.config["RATELIMIT_STORAGE_URI"] == app.config.get("REDIS_URL"):
        from .live.cluster import limiter_uri, reachable

        # The limits live in the same cluster (limits' RedisClusterStorage, routed by slot).
        # Its client reads the slot map when made and fails if no node answers: then this
        # process starts with its own limits (and sends keep working) until it restarts.
        if reachable(app.config["REDIS_URL"]):
            app.config["RATELIMIT_STORAGE_URI"] = limiter_uri(app.config["REDIS_URL"])
        else:
            app.logger.warning("Redis Cluster unreachable at start-up: rate limits are per process until a restart")
            app.config["RATELIMIT_STORAGE_URI"] = "memory://"
    app.config.setdefault(
        "RATELIMIT_STORAGE_OPTIONS", config_module.limiter_storage_options(app.config["RATELIMIT_STORAGE_URI"])
    )
    from . import inputs

    inputs.init_app(app)  # id converters, strict UTF-8 forms and query strings, chunked-body limit
    from . import static_files

    static_files.init_app(app)
    _trust_proxies(app)

    db.init_app(app)
    migrate.init_app(app, db, directory=os.path.join(ROOT, "migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    login_manager.init_app(app)
    from .errors import outage_retry_after

    app.after_request(outage_retry_after)  # before the limiter's own: runs after it
    limiter.init_app(app)
    live.init_app(app)
    from . import i18n

    i18n.init_app(app)  # the page's language (chat/i18n.py), gettext in templates and code

    from . import auth, models  # noqa: F401  (register tables, user loader)
    from .services import push, search, webhook_events

    search.install(db.metadata)
    webhook_events.register()  # deliveries written by a commit are sent right after it
    push.register()  # and so are pushes
    from .admin import bp as admin_bp
    from .api import bp as api_bp
    from .cli import register_cli
    from .embed import bp as embed_bp
    from .errors import register_error_handlers
    from .storefront import bp as storefront_bp

    app.register_blueprint(storefront_bp)
    app.register_blueprint(embed_bp)
    from . import identity

    # Hands a new or renewed customer session token to the client.
    app.after_request(identity.attach)
    app.register_blueprint(api_bp)
    app.register_blueprint(admin_bp)
    from .admin import app_shell

    app_shell.init_app(app)  # the panel's manifest, service worker and offline page (no login)
    from .files import bp as files_bp

    app.register_blueprint(files_bp)
    register_error_handlers(app)
    register_cli(app)
    from . import security
    from .live.names import Event, names_for_js

    security.init_app(app)
    # Live event names for templates (sse-swap) and, as JSON, for JavaScript.
    from .links import product_page, seen_on

    app.jinja_env.globals.update(live=Event, live_events=names_for_js(), product_page=product_page, seen_on=seen_on)
    from .services import attachment_links, attachments

    app.jinja_env.globals.update(
        attachment_link=attachment_links.link,
        message_preview=attachments.preview,
        attachments_in_words=attachments.in_words,
    )
    app.jinja_env.filters["filesize"] = attachments.human_size
    from .services import access, people, webhooks

    # Stored codes ("owner", "pending", a webhook's disabled reason) in the reader's language.
    app.jinja_env.globals.update(
        role_name=access.role_name,
        invitation_state_name=people.state_name,
        webhook_disabled_reason=webhooks.disabled_reason_text,
    )
    from . import workflow_notes

    app.jinja_env.globals["workflow_note"] = workflow_notes.text
    return app
