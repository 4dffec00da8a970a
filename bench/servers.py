"""The app as a real gunicorn server for side-by-side benchmarks: this tree, or an
older commit checked out beside it (`git worktree add --detach`, removed after)."""

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
from tests.live_server import BIN, free_port  # noqa: E402


def rss_kb(pid):
    """A process's resident memory in KB (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def run_in_tree(tree, code, *args):
    """Run ``code`` (a script) with ``args`` in another Python process inside ``tree`` (a
    checkout: that tree's code is imported), and return the JSON of its last output line."""
    import json

    out = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        cwd=tree,
        env=dict(os.environ, PYTHONPATH=tree),
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


@contextlib.contextmanager
def tree_at(ref):
    """A checkout of ``ref`` in a temporary folder (None: this tree)."""
    if not ref:
        yield ROOT
        return
    folder = tempfile.mkdtemp(prefix="bench-baseline-")
    subprocess.run(["git", "worktree", "add", "--detach", folder, ref], cwd=ROOT, check=True, capture_output=True)
    try:
        yield folder
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", folder], cwd=ROOT, capture_output=True)


class Side:
    """One server: its own database (SQLite file, or a fresh MariaDB database dropped after)."""

    def __init__(self, name, tree, redis_url=None, workers=1, mariadb=False, **settings):
        self.name, self.tree, self.workers = name, tree, workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = tempfile.mkdtemp(prefix="bench-side-")
        self.database = f"bench_{uuid.uuid4().hex[:10]}" if mariadb else None
        url = f"mysql+pymysql://root@127.0.0.1:3306/{self.database}" if mariadb else f"sqlite:///{self.folder}/chat.db"
        self.env = dict(
            os.environ,
            CHAT_CONFIG="production",
            SECRET_KEY="bench-secret",
            SESSION_COOKIE_SECURE="false",
            DATABASE_URL=url,
            RATELIMIT_ENABLED="false",
            GUNICORN_GRACEFUL_TIMEOUT="1",
            PYTHONPATH=tree,
            LIVE_CHANNEL_PREFIX=f"bench{self.port}:",
        )
        self.env.pop("REDIS_URL", None)
        if redis_url:
            self.env["REDIS_URL"] = redis_url
        self.env.update({k: str(v) for k, v in settings.items()})
        self.process = None

    def _mariadb(self, statement):
        import pymysql

        connection = pymysql.connect(host="127.0.0.1", user="root", password="", autocommit=True)
        try:
            connection.cursor().execute(statement)
        finally:
            connection.close()

    def start(self):
        if self.database:
            self._mariadb(f"CREATE DATABASE {self.database} CHARACTER SET utf8mb4")
        flask = [os.path.join(BIN, "flask"), "--app", "wsgi"]
        for step in (["db", "upgrade"], ["chat", "seed-demo"]):
            subprocess.run(flask + step, env=self.env, cwd=self.tree, check=True, capture_output=True)
        self.log = open(os.path.join(self.folder, "server.log"), "w")
        self.launch()
        return self.wait_until_up()

    def launch(self):
        """Start gunicorn (again, after ``halt``: same database, same settings)."""
        self.process = subprocess.Popen(
            [
                os.path.join(BIN, "gunicorn"),
                "-c",
                "gunicorn.conf.py",
                "--bind",
                f"127.0.0.1:{self.port}",
                "--workers",
                str(self.workers),
                "wsgi:app",
            ],
            cwd=self.tree,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )

    def wait_until_up(self, step=0.2):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(self.url + "/", timeout=1).close()
                return self
            except OSError:
                time.sleep(step)
        raise RuntimeError(f"{self.name}: the server did not start")

    def halt(self):
        """Stop gunicorn (SIGTERM: streams end cleanly), keeping the database for ``launch``."""
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.database:
            self._mariadb(f"DROP DATABASE IF EXISTS {self.database}")
        shutil.rmtree(self.folder, ignore_errors=True)
