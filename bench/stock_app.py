"""Stock flask-sse 1.0.0, untouched, for bench/sse_streams.py.

flask-sse's own module-level ``sse`` blueprint and ``stream`` view, mounted at
the same path as the app's /live/stock. Unlike the app's LiveBlueprint, its
``redis`` property builds a new client (and connection pool) on every access,
exactly as the library ships. Served by gunicorn.conf.py like the app:

    gunicorn -c gunicorn.conf.py --workers 1 bench.stock_app:app
"""

import os

from flask import Flask, jsonify
from flask_sse import sse

app = Flask(__name__)
app.config["REDIS_URL"] = os.environ["REDIS_URL"]
app.register_blueprint(sse, url_prefix="/live/stock")  # GET /live/stock?channel=<name>


@app.get("/")
def index():
    return "stock flask-sse bench app\n"


@app.get("/live/stats")
def stats():
    return jsonify(pid=os.getpid())
