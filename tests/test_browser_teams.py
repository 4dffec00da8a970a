"""The newcomer's flow on the real server: the owner invites an agent for the demo site on the
People page, the agent accepts in a second browser and sees only that site; screenshots of the
People page and the audit log (test-artifacts/; the copies in docs/screenshots/ come from here)."""

import re

import pytest

from .browser import screenshot
from .chat_helpers import make_inquiry
from .test_browser_embed import admin_page, create_site
from .test_browser_metrics import server_app

pytestmark = pytest.mark.browser


def test_an_invited_agent_of_one_site_sees_only_that_site(browser, shop_server):
    import sqlalchemy as sa

    from chat.extensions import db
    from chat.models import Product

    other = create_site(shop_server, "https://second.example")["site"]
    app = server_app(shop_server)
    with app.app_context():
        demo_product = db.session.scalar(sa.select(Product.id).order_by(Product.id))
        kettle = Product(
            site_id=db.session.scalar(sa.text(f"select id from sites where public_id = '{other}'")),
            external_id="k1",
            name="Second shop kettle",
        )
        db.session.add(kettle)
        db.session.commit()
        kettle_id = kettle.id
    ours = make_inquiry(app, demo_product, "Does the backpack fit a laptop?")
    theirs = make_inquiry(app, kettle_id, "Is the kettle quiet?")

    context, page = admin_page(browser, shop_server, viewport={"width": 1280, "height": 1000})
    page.get_by_role("link", name="People").click()
    page.get_by_label("Email").fill("temp@example.com")
    page.locator("#invite-role").select_option("agent")
    page.locator("form[action$='/people/invitations'] input[name=sites][value=demo]").check()
    page.get_by_role("button", name="Send invitation").click()
    link = page.locator("#invitation-url").inner_text()
    assert link.startswith(shop_server.url + "/admin/invitations/")
    screenshot(page, "people")

    # A second browser: the invitee.
    second = browser.new_context(viewport={"width": 1100, "height": 800})
    agent = second.new_page()
    agent.goto(link)
    agent.get_by_label("Your name").fill("Temp Tess")
    agent.get_by_label("Password (at least 8 characters)").fill("tess-password-1")
    agent.get_by_label("The password again").fill("tess-password-1")
    agent.get_by_role("button", name="Join").click()
    agent.wait_for_url(re.compile(r".*/admin/login$"))
    agent.get_by_label("Email").fill("temp@example.com")
    agent.get_by_label("Password").fill("tess-password-1")
    agent.get_by_role("button", name="Log in").click()
    agent.wait_for_url(re.compile(r".*/admin(/inquiries)?(\?.*)?$"))
    rows = agent.locator("tr[id^=inq-]")
    assert [r.get_attribute("id") for r in rows.all()] == [f"inq-{ours}"]
    assert agent.locator("#waiting-count").get_attribute("data-count") == "1"
    # No People, Webhooks or Audit log for an agent; another site's inquiry does not exist.
    assert agent.get_by_role("link", name="People").count() == 0
    assert agent.get_by_role("link", name="Audit log").count() == 0
    assert agent.goto(f"{shop_server.url}/admin/inquiries/{theirs}").status == 404
    second.close()

    page.get_by_role("link", name="Audit log").click()
    page.wait_for_timeout(200)
    text = page.locator("table.audit").inner_text()
    assert "person.invited" in text and "invitation.accepted" in text and "temp@example.com" in text
    screenshot(page, "audit-log")
    context.close()
