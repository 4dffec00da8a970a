"""Run the app as a real gunicorn + gevent process on a free loopback port."""

import atexit
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from urllib.parse import urlsplit

from . import backends

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def prepared_env(tmp_path, database_url, redis_url=None, seed=True, root=ROOT, **settings):
    """Environment for a production-config server with a migrated, seeded database
    (``root``: the checkout to run, another one for a side-by-side bench)."""
    env = dict(os.environ)
    env.update(
        CHAT_CONFIG="production",
        SECRET_KEY="live-server-test-secret",
        SESSION_COOKIE_SECURE="false",
        DATABASE_URL=database_url,
        RATELIMIT_ENABLED="false",
        GUNICORN_GRACEFUL_TIMEOUT="1",
        PYTHONPATH=root,
    )
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    env.update({key: str(value) for key, value in settings.items()})
    # Each server still gets a database of its own: a copy of the run's one migrated (and
    # seeded) database, instead of two CLI processes (~4 s on SQLite, ~10 s on MariaDB).
    if database_url.startswith("sqlite:///"):
        shutil.copyfile(_sqlite_template(env, root, seed), database_url[len("sqlite:///") :])
    elif not _copied_mysql_template(env, root, seed, database_url):
        _migrate(env, root, seed)
    return env


_templates = {}  # (kind, checkout, seeded) -> a migrated SQLite file or MariaDB database of this run


def _migrate(env, root, seed):
    flask = [os.path.join(BIN, "flask"), "--app", "wsgi"]
    subprocess.run(flask + ["db", "upgrade"], env=env, cwd=root, check=True, capture_output=True)
    if seed:
        subprocess.run(flask + ["chat", "seed-demo"], env=env, cwd=root, check=True, capture_output=True)


def _sqlite_template(env, root, seed):
    key = ("sqlite", root, seed)
    if key not in _templates:
        path = os.path.join(tempfile.mkdtemp(prefix="chat-template-"), "template.sqlite")
        _migrate({**env, "DATABASE_URL": f"sqlite:///{path}"}, root, seed)
        atexit.register(shutil.rmtree, os.path.dirname(path), ignore_errors=True)
        _templates[key] = path
    return _templates[key]


def _copied_mysql_template(env, root, seed, database_url):
    """Copy the run's migrated MariaDB database into ``database_url``'s (new, empty) one when
    both are on the tests' server (not behind a test's proxy); False when not copied."""
    target, server = urlsplit(database_url), urlsplit(backends.MYSQL_URL)
    if not database_url.startswith("mysql") or (target.hostname, target.port) != (server.hostname, server.port):
        return False
    key = ("mysql", root, seed)
    if key not in _templates:
        name, url = backends.create_mysql_database()
        atexit.register(backends.drop_mysql_database, name)
        _migrate({**env, "DATABASE_URL": url}, root, seed)
        _templates[key] = name
    return backends.copy_mysql_database(_templates[key], target.path.lstrip("/"))


class LiveServer:
    def __init__(self, env, port=None, app_spec="wsgi:app", workers=1, root=ROOT):
        self.env = env
        self.root = root  # the checkout to serve (the one prepared_env was given)
        self.workers = workers
        self.app_spec = app_spec  # the WSGI app gunicorn serves (bench/ serves stock flask-sse too)
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def start(self):
        # The log goes to a file: an unread pipe would fill and block the server.
        self.log = tempfile.NamedTemporaryFile(prefix="chat-server-", suffix=".log", delete=False)
        self.process = subprocess.Popen(
            [
                os.path.join(BIN, "gunicorn"),
                "-c",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                self.app_spec,
            ],
            cwd=self.root,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.monotonic() + 60  # generous: the 2 cores may be busy with other runs
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("server exited: " + self.log_text())
            try:
                urllib.request.urlopen(self.url + "/", timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        log = self.log_text()
        self.stop()
        raise RuntimeError("server did not answer within 60 s: " + log[-2000:])

    def log_text(self):
        with open(self.log.name, errors="replace") as fh:
            return fh.read()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process and os.path.exists(self.log.name):
            os.unlink(self.log.name)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


_admin_passwords = {}  # checkout -> the password kept in its instance/


def demo_admin_password(env):
    """The seeded admin's password, as `flask chat seed-demo` prints it (seeding again keeps the shop).

    The password is kept in the checkout's instance/ and every database of the run is
    seeded with it: asked once per run (each ask is a CLI process, ~2 s)."""
    if ROOT in _admin_passwords:
        return _admin_passwords[ROOT]
    out = subprocess.run(
        [os.path.join(BIN, "flask"), "--app", "wsgi", "chat", "seed-demo"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    _admin_passwords[ROOT] = out.split("Admin login: admin@example.com / ")[1].split()[0]
    return _admin_passwords[ROOT]


def demo_admin_token(env):
    """A new API token for the seeded admin, as `flask chat create-token` prints it."""
    return subprocess.run(
        [os.path.join(BIN, "flask"), "--app", "wsgi", "chat", "create-token", "admin@example.com"],
        env=env,
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
