"""WSGI entry point: `gunicorn -c gunicorn.conf.py wsgi:app`, `flask --app wsgi ...`.

CHAT_CONFIG picks the configuration class (production unless told otherwise).
"""

import os

from chat import create_app

app = create_app(os.environ.get("CHAT_CONFIG", "production"))
