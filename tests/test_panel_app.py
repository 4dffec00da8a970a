"""The admin panel as an installable app: manifest, service worker and offline page need no
login and hold nothing of anyone's; the Notifications menu offers "Notify this device"."""

import re

from .chat_helpers import admin_login


def test_the_manifest_makes_the_panel_installable(client):
    answer = client.get("/admin/manifest.webmanifest")
    assert answer.status_code == 200 and answer.mimetype == "application/manifest+json"
    manifest = answer.get_json()
    assert manifest["display"] == "standalone"
    assert manifest["start_url"] == "/admin/inquiries?status=waiting"
    assert manifest["scope"] == "/admin/" and manifest["start_url"].startswith(manifest["scope"])
    sizes = {icon["sizes"] for icon in manifest["icons"] if icon["type"] == "image/png"}
    assert {"192x192", "512x512"} <= sizes
    for icon in manifest["icons"]:
        assert client.get(icon["src"]).status_code == 200


def test_the_service_worker_caches_only_the_shell_and_the_offline_page(client):
    answer = client.get("/admin/sw.js")
    assert answer.status_code == 200 and answer.mimetype == "text/javascript"
    assert answer.headers["Cache-Control"] == "no-cache"
    script = answer.get_data(as_text=True)
    shell = re.search(r"var SHELL = (\[.*?\]);", script).group(1)
    paths = re.findall(r'"([^"]+)"', shell)
    assert paths[0] == "/admin/offline"
    # Besides the offline page, only our content-hashed static files: never a page of the panel.
    assert all(re.match(r"^/static/[\w/.-]+\.[0-9a-f]{12}\.\w+$", path) for path in paths[1:]), paths
    for path in paths:
        assert client.get(path).status_code == 200, path


def test_the_offline_page_is_the_same_for_everyone(client, app, demo):
    anonymous = client.get("/admin/offline")
    assert anonymous.status_code == 200 and "You are offline" in anonymous.get_data(as_text=True)
    assert "Set-Cookie" not in anonymous.headers
    admin_login(client, demo["admin_email"], demo["admin_password"])
    assert client.get("/admin/offline").get_data() == anonymous.get_data()


def test_the_notifications_menu_offers_this_device_with_our_public_key(app, admin):
    from chat import push_delivery

    client, token, _ = admin
    page = client.get("/admin").get_data(as_text=True)
    assert 'rel="manifest" href="/admin/manifest.webmanifest"' in page
    with app.app_context():
        key = push_delivery.public_key()
    assert f'data-push-key="{key}"' in page
    assert "Notify this device" in page
