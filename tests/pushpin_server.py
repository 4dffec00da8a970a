"""Run Debian's pushpin on spare ports in a directory of its own (deploy/pushpin's config)."""

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request

from .live_server import ROOT, free_port

DEPLOY = os.path.join(ROOT, "deploy", "pushpin")
# The handler's zmq ports and its publish endpoint, shifted by ``port_offset``.
_BASE_PORTS = (5560, 5561, 5562, 5563)


def pushpin_available():
    return shutil.which("pushpin") is not None and shutil.which("condure") is not None


def _free(port):
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _spare_offset():
    for _ in range(200):
        offset = random.randrange(20000, 38000)
        if all(_free(port + offset) for port in _BASE_PORTS):
            return offset
    raise RuntimeError("no spare ports for pushpin")


class Pushpin:
    """``with Pushpin(app_ports, key) as proxy``: proxy.url for browsers, proxy.publish_url for the app."""

    def __init__(self, app_ports, sig_key, maxconn=None, settings=None):
        self.app_ports = app_ports if isinstance(app_ports, (list, tuple)) else [app_ports]
        self.sig_key = sig_key
        self.maxconn = maxconn
        self.settings = dict(settings or {})  # pushpin.conf lines to replace (bench/pushpin_memory.py)
        self.port = free_port()
        self.offset = _spare_offset()
        self.url = f"http://127.0.0.1:{self.port}"
        self.publish_url = f"http://127.0.0.1:{5561 + self.offset}/publish/"
        self.process = None

    def _write_config(self):
        self.dir = tempfile.mkdtemp(prefix="chat-pushpin-")
        with open(os.path.join(DEPLOY, "pushpin.conf")) as fh:
            conf = fh.read()
        settings = {"http_port": self.port, "port_offset": self.offset, "sig_key": self.sig_key}
        if self.maxconn:
            settings["client_maxconn"] = self.maxconn
        settings.update(self.settings)
        for name, value in settings.items():
            conf, count = re.subn(rf"(?m)^{name}=.*$", f"{name}={value}", conf)
            assert count == 1, name
        with open(os.path.join(self.dir, "pushpin.conf"), "w") as fh:
            fh.write(conf)
        targets = ",".join(f"127.0.0.1:{port}" for port in self.app_ports)
        with open(os.path.join(self.dir, "routes"), "w") as fh:
            fh.write(f"* {targets}\n")

    def start(self):
        self._write_config()
        self.log = open(os.path.join(self.dir, "pushpin.log"), "w")
        # Its own process group: the runner's children (condure, zurl, proxy, handler) stop with it.
        self.process = subprocess.Popen(
            ["pushpin", "--config", os.path.join(self.dir, "pushpin.conf"), "--merge-output"],
            cwd=self.dir,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("pushpin exited: " + self.log_text()[-2000:])
            try:
                # The publish endpoint answers once the handler runs; the proxy's port once condure does.
                urllib.request.urlopen(
                    urllib.request.Request(self.publish_url, data=b'{"items": []}'), timeout=1
                ).close()
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("pushpin did not start within 30 s")

    def log_text(self):
        with open(os.path.join(self.dir, "pushpin.log"), errors="replace") as fh:
            return fh.read()

    def next_link_requests(self):
        """How many next-link (catch-up) requests Pushpin made so far (its log, level 2)."""
        return self.log_text().count("?recover=")

    def pids(self):
        """The runner and its services (for RSS figures)."""
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(self.process.pid)], capture_output=True, text=True)
        return [self.process.pid] + [int(pid) for pid in out.stdout.split()]

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process:
            try:  # a service the runner left behind (its group is ours)
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
