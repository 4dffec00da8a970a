"""Teams: what a person of one site sees, invitations, people, tokens that follow their owner."""

import re
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from chat.extensions import db
from chat.live import current_broker
from chat.live.names import Event
from chat.models import Invitation, OutboxEmail, Product, ProductInquiry, User, utcnow
from chat.services import access, admin_tokens, inquiries, notifications, people, sites

from . import backends
from .chat_helpers import admin_login, make_inquiry
from .test_inbox import Customer, Stream, of

PASSWORD = "teams-password-1"


@pytest.fixture
def two_sites(app, demo):
    """The demo site (A) and "other" (B), a product and a waiting inquiry on each, and an agent of A."""
    with app.app_context():
        other, _ = sites.create("Other shop", ["https://other.example"], public_id="other")
        demo_site = sites.demo_site()
        product_b = Product(site_id=other.id, external_id="b1", name="Blue kettle")
        db.session.add(product_b)
        db.session.commit()
        product_a = db.session.scalar(sa.select(Product.id).where(Product.site_id == demo_site.id).order_by(Product.id))
        agent = User(email="agent-a@shop.example", name="Ada", role="agent", all_sites=False)
        agent.sites = [demo_site]
        agent.set_password(PASSWORD)
        db.session.add(agent)
        db.session.commit()
        ids = {"product_a": product_a, "product_b": product_b.id, "agent": agent.id, "site_b": other.id}
    ids["inquiry_a"] = make_inquiry(app, ids["product_a"], "kettle question on A")
    ids["inquiry_b"] = make_inquiry(app, ids["product_b"], "kettle question on B")
    return ids


def _login(app, email="agent-a@shop.example", password=PASSWORD):
    client = app.test_client()
    return client, admin_login(client, email, password)


def _rows(page):
    return [int(i) for i in re.findall(r'<tr id="inq-(\d+)"', page)]


def test_an_agent_of_one_site_sees_only_its_inquiries_everywhere(app, two_sites):
    client, _ = _login(app)
    a, b = two_sites["inquiry_a"], two_sites["inquiry_b"]
    page = client.get("/admin").get_data(as_text=True)
    assert _rows(page) == [a]
    assert re.search(r'id="waiting-count" data-count="(\d+)"', page).group(1) == "1"  # the badge: A's only
    # Search: the word is in both inquiries, only A's is found.
    assert _rows(client.get("/admin?status=all&q=kettle").get_data(as_text=True)) == [a]
    # B's pages, its messages and its stream do not exist for them.
    for path in (f"/admin/inquiries/{b}", f"/admin/inquiries/{b}/messages", f"/admin/stream?inquiry={b}"):
        assert client.get(path).status_code == 404, path
    assert client.get(f"/admin/inquiries/{a}").status_code == 200


def test_the_customers_other_questions_stay_on_the_agents_sites(app, two_sites):
    # The same shopper (same session) asks on both sites.
    session = "shopper-on-both-sites"
    a = make_inquiry(app, two_sites["product_a"], "first", session=session)
    b = make_inquiry(app, two_sites["product_b"], "second", session=session)
    owner, _ = _login(app, "admin@example.com", _demo_password(app))
    assert f"/admin/inquiries/{b}" in owner.get(f"/admin/inquiries/{a}").get_data(as_text=True)
    agent, _ = _login(app)
    assert f"/admin/inquiries/{b}" not in agent.get(f"/admin/inquiries/{a}").get_data(as_text=True)


def _demo_password(app):
    from chat.demo import demo_admin_password

    with app.app_context():
        return demo_admin_password()


def test_metrics_and_their_csv_count_only_the_agents_sites(app, two_sites):
    with app.app_context():
        db.session.get(User, two_sites["agent"]).role = "manager"  # metrics are a manager's
        db.session.commit()
    client, _ = _login(app)
    with app.app_context():
        token = admin_tokens.create(db.session.get(User, two_sites["agent"]), "metrics")
    body = client.get("/api/admin/metrics?days=7", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert body["inquiries"] == 1 and [r["product"] for r in body["waiting_by_product"]] != ["Blue kettle"]
    assert client.get("/api/admin/metrics?site=other", headers={"Authorization": f"Bearer {token}"}).status_code == 422
    csv_text = client.get("/admin/metrics.csv?days=7").get_data(as_text=True)
    assert "Blue kettle" not in csv_text


def test_the_json_api_lists_only_the_sites_of_the_tokens_owner(app, two_sites):
    with app.app_context():
        token = admin_tokens.create(db.session.get(User, two_sites["agent"]), "script")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    listed = client.get("/api/admin/inquiries?status=all", headers=headers).get_json()["inquiries"]
    assert [i["id"] for i in listed] == [two_sites["inquiry_a"]]
    assert client.get(f"/api/admin/inquiries/{two_sites['inquiry_b']}", headers=headers).status_code == 404
    refused = client.put(
        f"/api/admin/inquiries/{two_sites['inquiry_b']}/status", json={"status": "closed"}, headers=headers
    )
    assert refused.status_code == 404
    with app.app_context():
        assert db.session.get(ProductInquiry, two_sites["inquiry_b"]).status == "pending"


def test_a_token_loses_rights_with_its_owner(app, two_sites, demo):
    with app.app_context():
        owner = User(email="boss@shop.example", name="Boss", role="owner", all_sites=True)
        owner.set_password(PASSWORD)
        db.session.add(owner)
        db.session.commit()
        token = admin_tokens.create(owner, "ops")
        owner_id = owner.id
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/admin/audit", headers=headers).status_code == 200
    assert client.get(f"/api/admin/inquiries/{two_sites['inquiry_b']}", headers=headers).status_code == 200
    admin_client, csrf = _login(app, demo["admin_email"], demo["admin_password"])
    changed = admin_client.put(
        f"/api/admin/people/{owner_id}", json={"role": "agent", "sites": ["demo"]}, headers={"X-CSRFToken": csrf}
    )
    assert changed.status_code == 200, changed.get_data(as_text=True)
    assert changed.get_json()["role"] == "agent" and changed.get_json()["sites"] == ["demo"]
    # The same token, now: an agent of the demo site.
    assert client.get("/api/admin/audit", headers=headers).status_code == 403
    assert client.get(f"/api/admin/inquiries/{two_sites['inquiry_b']}", headers=headers).status_code == 404
    assert client.get(f"/api/admin/inquiries/{two_sites['inquiry_a']}", headers=headers).status_code == 200


def test_an_agents_stream_subscribes_to_its_sites_channels_only_and_hears_nothing_of_another_site(app, two_sites):
    app.config["SSE_HEARTBEAT_SECONDS"] = 0.2
    client, _ = _login(app)
    stream = Stream(client, "?status=waiting")
    stream.until_quiet()
    channels = set(current_broker(app)._by_channel)
    site_a = sites.demo_site
    with app.app_context():
        a_id = site_a().id
    # Subscribed to site A's list and notices, never to the every-site channels or B's.
    assert f"admins:list:site:{a_id}" in " ".join(channels)
    assert not any(c.endswith(("admins:list", "admins:notices")) for c in channels)
    assert not any(c.endswith(f":site:{two_sites['site_b']}") for c in channels)

    Customer(app, two_sites["product_b"]).says("Is the blue one in stock?")
    assert stream.until_quiet() == []  # not even the badge: B's events never reach this stream
    Customer(app, two_sites["product_a"]).says("And this one?")
    events = stream.until_quiet()
    assert of(events, Event.ROW) and of(events, Event.WAITING) == ["2"]
    stream.close()


@pytest.mark.redis
@pytest.mark.parametrize(
    "app_config", [{"REDIS_URL": backends.REDIS_URL, "LIVE_CHANNEL_PREFIX": f"chat-teams-{uuid.uuid4().hex[:8]}:"}]
)
def test_on_redis_an_agents_worker_subscribes_to_its_sites_channels_only(app, two_sites, app_config):
    """The same at the Redis subscription level: the worker's SUBSCRIBEs for an agent of site A
    name A's channels only, and B's messages never reach the stream."""
    backends.require("redis")
    app.config["SSE_HEARTBEAT_SECONDS"] = 0.2
    client, _ = _login(app)
    stream = Stream(client, "?status=waiting")
    stream.until_quiet()
    with app.app_context():
        a_id = sites.demo_site().id
    broker = current_broker(app)
    assert broker.redis_channels() == {f"admins:list:site:{a_id}", f"admins:notices:site:{a_id}"}
    Customer(app, two_sites["product_b"]).says("Is the blue one in stock?")
    assert stream.until_quiet() == []
    Customer(app, two_sites["product_a"]).says("And this one?")
    assert of(stream.until_quiet(), Event.WAITING) == ["2"]
    stream.close()


def test_mails_about_another_sites_inquiry_never_go_to_an_agent_of_one_site(app, two_sites):
    with app.app_context():
        for key in ("inquiry_a", "inquiry_b"):
            inquiry = db.session.get(ProductInquiry, two_sites[key])
            notifications.queue_high_priority(inquiry, "urgent")
        db.session.commit()
        to_agent = db.session.scalars(
            sa.select(OutboxEmail.inquiry_id).where(OutboxEmail.to_addr == "agent-a@shop.example")
        ).all()
    assert to_agent == [two_sites["inquiry_a"]]


def test_an_admin_attachment_link_of_another_site_is_404(app, two_sites):
    from chat.files import _check_audience
    from chat.services.attachment_links import Grant

    class Attachment:
        inquiry_id = two_sites["inquiry_b"]

    with app.app_context():
        agent = db.session.get(User, two_sites["agent"])
        token = admin_tokens.create(agent, "files")
    with app.test_request_context(headers={"Authorization": f"Bearer {token}"}):
        with pytest.raises(Exception) as refused:
            _check_audience(Grant(Attachment(), "admin", 0))
        assert refused.value.status == 404
        Attachment.inquiry_id = two_sites["inquiry_a"]
        _check_audience(Grant(Attachment(), "admin", 0))  # their own site's: fine


# -- invitations --------------------------------------------------------------------


def _invite(app, actor_email="admin@example.com", **kwargs):
    with app.app_context():
        actor = db.session.scalar(sa.select(User).where(User.email == actor_email))
        invitation, url = people.invite(
            actor, kwargs.get("email", "new@shop.example"), kwargs.get("role", "agent"), kwargs.get("sites", ["demo"])
        )
        return invitation.id, url


def _accept(client, url, name="Newton", password=PASSWORD):
    path = url.split("://", 1)[1].split("/", 1)[1]
    page = client.get("/" + path)
    if page.status_code != 200:
        return page
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post(
        "/" + path, data={"name": name, "password": password, "confirm_password": password, "csrf_token": csrf}
    )


def test_an_invitation_makes_an_agent_of_one_site_once(app, two_sites):
    invitation_id, url = _invite(app)
    with app.app_context():
        mail = db.session.scalar(sa.select(OutboxEmail).where(OutboxEmail.to_addr == "new@shop.example"))
        assert url in mail.body_text
    client = app.test_client()
    assert _accept(client, url).status_code == 303
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "new@shop.example"))
        assert (user.role, user.all_sites, [s.public_id for s in user.sites]) == ("agent", False, ["demo"])
    # Reused: gone.
    again = _accept(app.test_client(), url)
    assert again.status_code == 410 and "used already" in again.get_data(as_text=True)
    newcomer, _ = _login(app, "new@shop.example", PASSWORD)
    assert _rows(newcomer.get("/admin").get_data(as_text=True)) == [two_sites["inquiry_a"]]


def test_an_expired_revoked_or_replaced_invitation_link_is_refused(app, two_sites):
    first_id, first_url = _invite(app, email="late@shop.example")
    with app.app_context():
        db.session.get(Invitation, first_id).expires_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
    expired = _accept(app.test_client(), first_url)
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)

    second_id, second_url = _invite(app, email="gone@shop.example")
    with app.app_context():
        people.revoke(db.session.scalar(sa.select(User).where(User.email == "admin@example.com")), second_id)
    revoked = _accept(app.test_client(), second_url)
    assert revoked.status_code == 410 and "withdrawn" in revoked.get_data(as_text=True)

    third_id, third_url = _invite(app, email="again@shop.example")
    with app.app_context():
        owner = db.session.scalar(sa.select(User).where(User.email == "admin@example.com"))
        _, fresh_url = people.resend(owner, third_id)
    assert _accept(app.test_client(), third_url).status_code == 410  # the older link stops working
    assert _accept(app.test_client(), fresh_url).status_code == 303
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count(User.id)).where(User.email.in_(["late@shop.example", "gone@shop.example"]))
            )
            == 0
        )


def test_an_invitation_is_for_its_email_only(app, two_sites):
    invitation_id, url = _invite(app, email="right@shop.example")
    # A tampered link (another invitation's id with this nonce) is refused.
    other_id, _ = _invite(app, email="other@shop.example")
    with app.test_request_context():
        token = url.rsplit("/", 1)[1]
        data = people._serializer().loads(token)
        forged = people._serializer().dumps({"i": other_id, "n": data["n"]})
    assert _accept(app.test_client(), url.replace(token, forged)).status_code == 410
    assert _accept(app.test_client(), url.replace(token, token[:-3] + "abc")).status_code == 404
    # The form cannot choose another email: the account is the invited address.
    client = app.test_client()
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).get_data(as_text=True)).group(1)
    client.post(
        path,
        data={
            "name": "X",
            "email": "evil@shop.example",
            "password": PASSWORD,
            "confirm_password": PASSWORD,
            "csrf_token": csrf,
        },
    )
    with app.app_context():
        emails = set(db.session.scalars(sa.select(User.email)))
    assert "right@shop.example" in emails and "evil@shop.example" not in emails
    # An email that has an account by now is told to log in.
    _, taken_url = _invite(app, email="late-account@shop.example")
    with app.app_context():
        user = User(email="late-account@shop.example", name="Late")
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
    page = app.test_client().get("/" + taken_url.split("://", 1)[1].split("/", 1)[1]).get_data(as_text=True)
    assert "has an account already" in page and "log in" in page


def test_a_manager_invites_agents_of_their_own_sites_only(app, two_sites):
    with app.app_context():
        db.session.get(User, two_sites["agent"]).role = "manager"
        db.session.commit()
    client, csrf = _login(app)
    headers = {"X-CSRFToken": csrf}
    made = client.post(
        "/api/admin/invitations",
        json={"email": "temp@shop.example", "role": "agent", "sites": ["demo"]},
        headers=headers,
    )
    assert made.status_code == 201 and set(made.get_json()) == {"id", "url"}
    assert (
        client.post(
            "/api/admin/invitations",
            json={"email": "m@shop.example", "role": "manager", "sites": ["demo"]},
            headers=headers,
        ).status_code
        == 403
    )
    assert (
        client.post(
            "/api/admin/invitations",
            json={"email": "b@shop.example", "role": "agent", "sites": ["other"]},
            headers=headers,
        ).status_code
        == 422
    )
    assert (
        client.post(
            "/api/admin/invitations",
            json={"email": "all@shop.example", "role": "agent", "sites": None},
            headers=headers,
        ).status_code
        == 403
    )
    # People changes are the owners'.
    assert (
        client.put(
            f"/api/admin/people/{two_sites['agent']}", json={"role": "agent", "sites": ["demo"]}, headers=headers
        ).status_code
        == 403
    )


def test_the_last_owner_cannot_be_demoted_or_deactivated(app, demo):
    client, csrf = _login(app, demo["admin_email"], demo["admin_password"])
    with app.app_context():
        me = db.session.scalar(sa.select(User).where(User.email == demo["admin_email"])).id
    refused = client.put(
        f"/api/admin/people/{me}", json={"role": "manager", "sites": None}, headers={"X-CSRFToken": csrf}
    )
    assert refused.status_code == 409 and "last owner" in refused.get_json()["error"]
    assert client.post(f"/admin/people/{me}/deactivate", headers={"X-CSRFToken": csrf}).status_code == 409
    with app.app_context():
        assert db.session.get(User, me).role == "owner" and db.session.get(User, me).is_active


def test_a_person_who_loses_a_site_is_unassigned_from_its_open_inquiries(app, two_sites, demo):
    with app.app_context():
        agent = db.session.get(User, two_sites["agent"])
        agent.all_sites = True
        db.session.commit()
        owner = db.session.scalar(sa.select(User).where(User.email == demo["admin_email"]))
        for key in ("inquiry_a", "inquiry_b"):
            inquiries.assign(two_sites[key], owner, agent.id)
        people.change(owner, db.session.get(User, two_sites["agent"]), "agent", ["demo"])
        assert db.session.get(ProductInquiry, two_sites["inquiry_a"]).assigned_admin_id == agent.id
        assert db.session.get(ProductInquiry, two_sites["inquiry_b"]).assigned_admin_id is None


def test_deactivating_a_person_ends_their_sessions_at_once(app, two_sites, demo):
    agent_client, _ = _login(app)
    assert agent_client.get("/admin").status_code == 200
    owner, csrf = _login(app, demo["admin_email"], demo["admin_password"])
    assert (
        owner.post(f"/admin/people/{two_sites['agent']}/deactivate", headers={"X-CSRFToken": csrf}).status_code == 303
    )
    assert agent_client.get("/admin").status_code == 302  # back to the login


def test_the_people_page_lists_roles_sites_and_invitations(app, two_sites, demo):
    _invite(app, email="pending@shop.example")
    owner, _ = _login(app, demo["admin_email"], demo["admin_password"])
    page = owner.get("/admin/people").get_data(as_text=True)
    assert "agent-a@shop.example" in page and "pending@shop.example" in page and "All sites" in page
    listed = owner.get("/api/admin/people").get_json()
    ada = next(p for p in listed["people"] if p["email"] == "agent-a@shop.example")
    assert (ada["role"], ada["sites"]) == ("agent", ["demo"])
    assert [i["email"] for i in listed["invitations"]] == ["pending@shop.example"]


def test_cli_invite_and_create_admin_take_a_role_and_sites(app, runner, two_sites):
    out = runner.invoke(args=["chat", "invite", "cli@shop.example", "--role", "agent", "--site", "demo"])
    assert out.exit_code == 0, out.output
    assert "Invitation link: http" in out.output
    made = runner.invoke(
        args=[
            "chat",
            "create-admin",
            "mgr@shop.example",
            "--password",
            PASSWORD,
            "--role",
            "manager",
            "--site",
            "demo",
            "--site",
            "other",
        ]
    )
    assert made.exit_code == 0, made.output
    with app.app_context():
        user = db.session.scalar(sa.select(User).where(User.email == "mgr@shop.example"))
        assert user.role == "manager" and sorted(s.public_id for s in user.sites) == ["demo", "other"]
    bad = runner.invoke(args=["chat", "create-admin", "x@shop.example", "--password", PASSWORD, "--site", "nope"])
    assert bad.exit_code != 0 and "No such site" in bad.output


def test_cli_reply_answers_only_as_someone_who_works_on_the_inquirys_site(app, runner, two_sites):
    refused = runner.invoke(
        args=["chat", "reply", str(two_sites["inquiry_b"]), "from the wrong shop", "--admin", "agent-a@shop.example"]
    )
    assert refused.exit_code != 0 and "No such inquiry" in refused.output
    answered = runner.invoke(
        args=["chat", "reply", str(two_sites["inquiry_a"]), "from the right shop", "--admin", "agent-a@shop.example"]
    )
    assert answered.exit_code == 0, answered.output
    with app.app_context():
        texts = {
            inquiry_id: [m.message_text for m in db.session.get(ProductInquiry, inquiry_id).messages]
            for inquiry_id in (two_sites["inquiry_a"], two_sites["inquiry_b"])
        }
    assert "from the right shop" in texts[two_sites["inquiry_a"]]
    assert "from the wrong shop" not in texts[two_sites["inquiry_b"]]


def test_access_decides_in_one_place(app, two_sites):
    with app.app_context():
        agent = db.session.get(User, two_sites["agent"])
        assert access.can(agent, "inquiries", sites.demo_site())
        assert not access.can(agent, "inquiries", two_sites["site_b"])
        assert not access.can(agent, "webhooks")


# -- automatic assignment ----------------------------------------------------------------


def _online(app, *user_ids, minutes_ago=0):
    from chat.models import AdminSession

    with app.app_context():
        for user_id in user_ids:
            db.session.add(
                AdminSession(
                    user_id=user_id,
                    key_hash=f"{user_id}-{minutes_ago}".ljust(64, "x"),
                    last_seen_at=utcnow() - timedelta(minutes=minutes_ago),
                )
            )
        db.session.commit()


def _assignee(app, inquiry_id):
    with app.app_context():
        return db.session.get(ProductInquiry, inquiry_id).assigned_admin_id


def test_automatic_assignment_picks_the_online_member_with_fewest_waiting_in_turn(app, two_sites, demo):
    with app.app_context():
        demo_site = sites.demo_site()
        demo_site.auto_assign = True
        bo = User(email="bo@shop.example", name="Bo", role="agent", all_sites=False)
        bo.sites = [demo_site]
        bo.set_password(PASSWORD)
        outsider = User(email="b-only@shop.example", name="Bea", role="agent", all_sites=False)
        outsider.sites = [db.session.get(sites.Site, two_sites["site_b"])]
        outsider.set_password(PASSWORD)
        db.session.add_all([bo, outsider])
        db.session.commit()
        ada, bo_id, bea = two_sites["agent"], bo.id, outsider.id
        owner = db.session.scalar(sa.select(User.id).where(User.email == demo["admin_email"]))
    # Nobody online: it stays unassigned (the inquiry of the fixture came before the setting).
    assert _assignee(app, make_inquiry(app, two_sites["product_a"], "first")) is None
    _online(app, ada, bo_id, bea)
    _online(app, owner, minutes_ago=30)  # the owner's session is old: not online
    first = _assignee(app, make_inquiry(app, two_sites["product_a"], "one"))
    second = _assignee(app, make_inquiry(app, two_sites["product_a"], "two"))
    # Round robin on a tie, then the fewest waiting; never someone of another site or offline.
    assert {first, second} == {ada, bo_id}
    third = _assignee(app, make_inquiry(app, two_sites["product_a"], "three"))
    assert third == first  # a tie (one waiting each): whoever was picked longest ago
    other = second
    # Unassigned from both, they wait on fewest: the next is theirs; then a tie again, in turn.
    with app.app_context():
        for _ in range(2):
            inquiries.assign(_first_assigned_to(app, third), db.session.get(User, owner), None)
    assert _assignee(app, make_inquiry(app, two_sites["product_a"], "four")) == third
    assert _assignee(app, make_inquiry(app, two_sites["product_a"], "five")) == other != third
    # A site without the setting: nobody is assigned.
    assert _assignee(app, make_inquiry(app, two_sites["product_b"], "elsewhere")) is None
    notes = _notes(app)
    assert "Assigned automatically to Ada" in notes or "Assigned automatically to Bo" in notes


def _first_assigned_to(app, user_id):
    with app.app_context():
        return db.session.scalar(
            sa.select(ProductInquiry.id).where(ProductInquiry.assigned_admin_id == user_id).order_by(ProductInquiry.id)
        )


def _notes(app):
    from chat.models import ProductMessage

    with app.app_context():
        return list(
            db.session.scalars(sa.select(ProductMessage.message_text).where(ProductMessage.system_event == "assignee"))
        )


def test_an_owner_of_some_sites_changes_only_the_people_of_those_sites(app, two_sites, demo):
    with app.app_context():
        local = User(email="local-owner@shop.example", name="Lo", role="owner", all_sites=False)
        local.sites = [sites.demo_site()]
        local.set_password(PASSWORD)
        db.session.add(local)
        db.session.commit()
        boss = db.session.scalar(sa.select(User.id).where(User.email == demo["admin_email"]))
    client, csrf = _login(app, "local-owner@shop.example", PASSWORD)
    headers = {"X-CSRFToken": csrf}
    # The every-site owner is not theirs to demote or deactivate.
    demote = client.put(f"/api/admin/people/{boss}", json={"role": "agent", "sites": ["demo"]}, headers=headers)
    assert demote.status_code == 403
    assert client.post(f"/admin/people/{boss}/deactivate", headers=headers).status_code == 403
    # Their own site's agent is.
    changed = client.put(
        f"/api/admin/people/{two_sites['agent']}", json={"role": "manager", "sites": ["demo"]}, headers=headers
    )
    assert changed.status_code == 200
    with app.app_context():
        assert db.session.get(User, boss).role == "owner" and db.session.get(User, boss).is_active


def test_a_stream_closes_when_its_person_loses_the_site(app, two_sites):
    app.config["SSE_HEARTBEAT_SECONDS"] = 0.2
    client, _ = _login(app)
    stream = Stream(client, f"?inquiry={two_sites['inquiry_a']}")
    stream.until_quiet()
    with app.app_context():
        agent = db.session.get(User, two_sites["agent"])
        agent.sites = [db.session.get(sites.Site, two_sites["site_b"])]
        db.session.commit()
    with pytest.raises(AssertionError, match="the stream ended"):
        for _ in range(20):
            stream.until_quiet()
    assert client.get(f"/admin/stream?inquiry={two_sites['inquiry_a']}").status_code == 404


def test_pushes_about_another_sites_inquiry_never_go_to_an_agent_of_one_site(app, two_sites):
    from chat.services import push

    with app.app_context():
        for key, expected in (("inquiry_a", True), ("inquiry_b", False)):
            inquiry = db.session.get(ProductInquiry, two_sites[key])
            picked = {u.id for u in push.recipients_for(inquiry, "new_question")}
            assert (two_sites["agent"] in picked) is expected
        # Assigned, then moved off the site: no push to them either.
        inquiry = db.session.get(ProductInquiry, two_sites["inquiry_a"])
        inquiry.assigned_admin_id = two_sites["agent"]
        db.session.get(User, two_sites["agent"]).sites = [db.session.get(sites.Site, two_sites["site_b"])]
        db.session.commit()
        assert push.recipients_for(inquiry, "customer_message") == []
