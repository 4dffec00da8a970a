"""`flask chat create-site`, `site-key` and `sites`."""

import json

import sqlalchemy as sa

from chat.extensions import db
from chat.models import Site


def test_create_site_prints_exactly_one_json_object_and_the_key_works(app, runner):
    result = runner.invoke(
        args=[
            "chat",
            "create-site",
            "Bob's <Shop>",
            "--origin",
            "https://Bob.example",
            "--origin",
            "http://localhost:3000",
        ]
    )
    assert result.exit_code == 0, result.output
    created = json.loads(result.stdout)  # the whole of stdout is one JSON object
    assert set(created) == {"site", "api_key"}
    assert result.stdout.count("\n") == 1
    with app.app_context():
        site = db.session.scalar(sa.select(Site).filter_by(public_id=created["site"]))
        assert site.name == "Bob's <Shop>" and site.origins == ["https://bob.example", "http://localhost:3000"]
    response = app.test_client().put(
        "/api/catalog/products/SKU-1", json={"name": "Mug"}, headers={"Authorization": f"Bearer {created['api_key']}"}
    )
    assert response.status_code == 201 and response.get_json()["site"] == created["site"]


def test_create_site_refuses_bad_origins_and_stores_nothing(app, runner):
    result = runner.invoke(args=["chat", "create-site", "X", "--origin", "ftp://x", "--origin", "https://ok.example"])
    assert result.exit_code != 0 and result.stdout == ""
    assert "ftp://x" in result.output
    assert runner.invoke(args=["chat", "create-site", "X"]).exit_code != 0  # --origin is required
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(Site)) == 0


def test_site_key_and_sites(app, runner):
    site = json.loads(runner.invoke(args=["chat", "create-site", "Shop A", "--origin", "https://a.example"]).stdout)
    result = runner.invoke(args=["chat", "site-key", site["site"], "--name", "nightly sync"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key.startswith("pcs_") and key != site["api_key"]
    response = app.test_client().get("/api/catalog/products", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    missing = runner.invoke(args=["chat", "site-key", "nosuch"])
    assert missing.exit_code != 0 and missing.stdout == ""
    listing = runner.invoke(args=["chat", "sites"])
    assert listing.exit_code == 0
    assert listing.stdout.splitlines() == [f"{site['site']}\tShop A\thttps://a.example"]
