"""Start the real server process (gunicorn, gevent worker) and fetch pages over HTTP."""

import os
import subprocess
import urllib.request

from .live_server import BIN, ROOT, LiveServer, free_port, prepared_env


def test_real_server_serves_the_shop_over_http(tmp_path):
    env = prepared_env(tmp_path, database_url=f"sqlite:///{tmp_path}/smoke.sqlite")
    with LiveServer(env) as server:
        with urllib.request.urlopen(server.url + "/", timeout=10) as response:
            page = response.read().decode()
            assert response.status == 200
        assert "Trailhead 35L Hiking Backpack" in page
        try:
            urllib.request.urlopen(server.url + "/products/424242", timeout=10)
        except urllib.error.HTTPError as error:
            assert error.code == 404
            assert "Back to the products" in error.read().decode()
        else:
            raise AssertionError("unknown product did not answer 404")
        with urllib.request.urlopen(server.url + "/static/vendor/htmx.min.js", timeout=10) as response:
            assert response.status == 200


def _start(tmp_path, **settings):
    """gunicorn as production runs it, with ``settings`` in its environment; (exit code, stderr)."""
    env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "REDIS_URL")}
    env.update(CHAT_CONFIG="production", SECRET_KEY="smoke-secret", PYTHONPATH=ROOT, **settings)
    command = [
        os.path.join(BIN, "gunicorn"),
        "-c",
        "gunicorn.conf.py",
        "--bind",
        f"127.0.0.1:{free_port()}",
        "wsgi:app",
    ]
    try:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired as running:
        raise AssertionError("the server started instead of refusing") from running
    return done.returncode, done.stderr


def test_several_workers_on_sqlite_are_refused_at_start(tmp_path):
    code, log = _start(tmp_path, WEB_CONCURRENCY="2", DATABASE_URL=f"sqlite:///{tmp_path}/two.sqlite")
    assert code != 0
    assert "2 workers on SQLite" in log and "WEB_CONCURRENCY=1" in log and "Traceback" not in log


def test_several_workers_without_redis_are_refused_at_start(tmp_path):
    # Refused before any worker boots: the database is not even asked.
    code, log = _start(tmp_path, WEB_CONCURRENCY="3", DATABASE_URL="mysql+pymysql://root@127.0.0.1:1/none")
    assert code != 0
    assert "3 workers without REDIS_URL" in log and "Traceback" not in log
