"""Templates see every global the app sets (chat/templating.py keeps each template's
globals in one dict, taken when the template is loaded)."""

from chat.templating import Environment

from .chat_helpers import admin_login, first_product_id


def test_every_template_sees_the_apps_globals_and_serving_adds_none(app, demo, client):
    assert isinstance(app.jinja_env, Environment)
    at_start = dict(app.jinja_env.globals)
    pid = first_product_id(app)
    # Pages of every part: the shop and its widget, the admin panel (list and inquiry), an error.
    sent = app.test_client(use_cookies=False).post(f"/api/products/{pid}/messages", json={"message_text": "Blue?"})
    inquiry_id = sent.get_json()["inquiry_id"]
    admin_login(client, demo["admin_email"], demo["admin_password"])
    for path in ("/", f"/products/{pid}", "/admin", f"/admin/inquiries/{inquiry_id}", "/nowhere"):
        assert client.get(path).status_code in (200, 404), path
    # A global set while serving would be missed by the templates loaded before it.
    assert app.jinja_env.globals == at_start
    loaded = list(app.jinja_env.cache.values())
    assert len(loaded) > 10
    for template in loaded:
        assert type(template.globals) is dict
        assert {k: template.globals.get(k) for k in at_start} == at_start, template.name
