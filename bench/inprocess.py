"""The app in this process, for the in-process benches (``stream_side.py``, ``marks_flush.py``).

Not run directly. It imports ``chat`` only when called, and leaves ``sys.path`` as it
finds it: a bench that runs another checkout loads this file by path (``runpy``) and gets
that checkout's app.
"""

import os
import re
import warnings


def app_with_demo(workdir):
    """The production app on a new SQLite database in ``workdir`` (no Redis, no rate limits,
    plain-HTTP cookies), the demo seeded: ``(app, (admin email, admin password))``."""
    os.environ.update(
        CHAT_CONFIG="production",
        SECRET_KEY="bench-secret",
        SESSION_COOKIE_SECURE="false",
        DATABASE_URL=f"sqlite:///{workdir}/bench.sqlite",
        RATELIMIT_ENABLED="false",
    )
    os.environ.pop("REDIS_URL", None)
    warnings.simplefilter("ignore")
    from chat import create_app
    from chat.extensions import db

    app = create_app("production")
    with app.app_context():
        db.create_all()
    out = app.test_cli_runner().invoke(args=["chat", "seed-demo"]).output
    return app, re.search(r"Admin login: (\S+) / (\S+)", out).groups()
