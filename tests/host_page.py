"""Another shop's product page, served from another site (http://localhost:<port>) while the
chat runs on http://127.0.0.1:<port>: the widget is then a third-party frame."""

import http.server
import threading

from .live_server import free_port


class HostPage:
    def __init__(self, html_by_path):
        self.pages = html_by_path
        self.port = free_port()
        self.origin = f"http://localhost:{self.port}"
        pages = self.pages

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the stdlib's name
                if self.path == "/favicon.ico":
                    self.send_response(204)
                    self.end_headers()
                    return
                body = pages.get(self.path.split("?")[0].split("#")[0])
                if body is None:
                    self.send_error(404)
                    return
                data = body.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path="/"):
        return self.origin + path

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


def product_page(chat_url, site, product, title="Hand-thrown Vase · Clay & Co", extra_attrs="", body=""):
    """A plain product page of another shop with the one-tag widget."""
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; margin: 2rem">
<h1>{title}</h1><p>Glazed stoneware, 24 cm. 65.00 EUR.</p>
<button id="host-button" onclick="this.textContent='host works'">Add to basket</button>
{body}
<script src="{chat_url}/widget.js" data-site="{site}" data-product="{product}" {extra_attrs} async></script>
</body></html>"""
