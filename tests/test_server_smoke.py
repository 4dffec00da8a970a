"""Start the real server process (gunicorn, gevent worker) and fetch pages over HTTP."""

import urllib.request

from .live_server import LiveServer, prepared_env


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
