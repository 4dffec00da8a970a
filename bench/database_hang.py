"""Time to a 503 when MariaDB hangs (takes connections, answers nothing) or is cut.

    .venv/bin/python bench/database_hang.py                      # the web server's timeouts (2 s, 2 s)
    .venv/bin/python bench/database_hang.py --connect 1 --query 1

A benchmark, not a test: it prints figures. The app (in process) reaches a fresh
MariaDB database through a TCP proxy (tests/tcp_proxy.py) that is frozen
(nothing forwarded, connections kept open) or cut (connections closed, new ones
refused); each send is timed until its 503, then once more after the repair.
"""

import argparse
import os
import sys
import time
import uuid
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connect", default="2", help="DATABASE_TIMEOUT_SECONDS")
    parser.add_argument("--query", default="2", help="DATABASE_QUERY_TIMEOUT_SECONDS (gunicorn.conf.py: 2)")
    parser.add_argument("--sends", type=int, default=3, help="sends timed during each fault")
    args = parser.parse_args()

    from chat import create_app
    from chat.demo import seed_demo
    from chat.extensions import db
    from tests import backends
    from tests.conftest import _config
    from tests.tcp_proxy import TCPProxy

    name, url = backends.create_mysql_database()
    parts = urlsplit(url)
    proxy = TCPProxy(parts.hostname, parts.port or 3306).start()
    proxied = url.replace(parts.netloc, f"{parts.username}@127.0.0.1:{proxy.port}")
    try:
        setup = create_app(_config(proxied))  # the schema, without timeouts (as the CLI would)
        with setup.app_context():
            db.create_all()
            seed_demo()
            db.engine.dispose()
        os.environ["DATABASE_TIMEOUT_SECONDS"], os.environ["DATABASE_QUERY_TIMEOUT_SECONDS"] = args.connect, args.query
        client = create_app(_config(proxied)).test_client()

        def send():
            started = time.monotonic()
            response = client.post(
                "/api/products/1/messages",
                headers={"X-Chat-Session": ""},
                json={"message_text": "timed", "client_message_id": str(uuid.uuid4())},
            )
            return response.status_code, time.monotonic() - started

        print(f"connect timeout {args.connect} s, query timeout {args.query} s")
        print("before:", "%d in %.3f s" % send())
        for fault, start, end in (("hung (frozen)", proxy.freeze, proxy.thaw), ("cut", proxy.cut, proxy.restore)):
            start()
            timings = [send() for _ in range(args.sends)]
            end()
            print(
                f"{fault}: " + ", ".join("%d in %.3f s" % t for t in timings) + "; after repair: %d in %.3f s" % send()
            )
    finally:
        proxy.cut()
        backends.drop_mysql_database(name)


if __name__ == "__main__":
    main()
