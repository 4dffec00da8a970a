"""A webhook receiver for trying webhooks out: verifies each request with the Standard Webhooks
reference library (``standardwebhooks``, installed by ``make install-test``) and prints it.

    .venv/bin/python tools/webhook_receiver.py --secret whsec_... [--port 8765]

Point an endpoint at http://127.0.0.1:8765/ (the app needs WEBHOOK_ALLOW_PRIVATE=true for a
plain-http address on this machine) and press "Send test event" on its page. A request whose
signature does not verify is answered 401 and printed as such. Ctrl+C stops it.
"""

import argparse
import http.server
import json

import standardwebhooks


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--secret", required=True, help="the endpoint's whsec_ secret")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--once", action="store_true", help="stop after the first request")
    args = parser.parse_args()
    verifier = standardwebhooks.Webhook(args.secret)

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                payload = verifier.verify(body, dict(self.headers))
            except standardwebhooks.webhooks.WebhookVerificationError as error:
                print(f"NOT verified ({error}): webhook-id {self.headers.get('webhook-id')}", flush=True)
                self.send_response(401)
            else:
                print(
                    f"verified by standardwebhooks: webhook-id {self.headers['webhook-id']}, "
                    f"webhook-timestamp {self.headers['webhook-timestamp']}, type {payload['type']}\n"
                    f"{json.dumps(payload, indent=2, ensure_ascii=False)}",
                    flush=True,
                )
                self.send_response(204)
            self.end_headers()

        def log_message(self, *_):
            pass

    server = http.server.HTTPServer(("127.0.0.1", args.port), Handler)
    print(f"Listening on http://127.0.0.1:{args.port}/", flush=True)
    try:
        if args.once:
            server.handle_request()
        else:
            server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
