"""Web Push to admins' devices: a push service in the test receives each request, checks its
VAPID signature against our public key and decrypts the payload with the subscribing
browser's private key; on SQLite and MariaDB."""

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from chat import push_delivery
from chat.extensions import db
from chat.models import AdminSession, PushDelivery, PushSubscription, Site, User
from chat.services import admin_sessions, admin_tokens, conversations, inquiries, privacy, push

from .chat_helpers import BO_EMAIL, BO_PASSWORD, admin_login, first_product_id, make_inquiry
from .push_service import Browser, PushService, verified_claims


@pytest.fixture
def app_config():
    # Each test runs the worker's round itself (deliver()); the at-once path has its own test.
    return {"PUSH_ALLOW_PRIVATE_ENDPOINTS": True, "PUSH_DELIVER_AT_ONCE": False, "PUSH_FIRST_RETRY_SECONDS": 0}


@pytest.fixture
def product_id(app, demo):
    return first_product_id(app)


def subscribe(client, token, subscription):
    return client.post("/api/admin/push-subscriptions", json=subscription, headers={"X-CSRFToken": token})


def deliver(app):
    with app.app_context():
        return push_delivery.deliver_due()


def product_name(app, product_id):
    with app.app_context():
        return conversations.get_product(product_id).name


def subscriptions(app):
    with app.app_context():
        return db.session.scalars(sa.select(PushSubscription.id).order_by(PushSubscription.id)).all()


def bo_client(app):
    client = app.test_client()
    return client, admin_login(client, BO_EMAIL, BO_PASSWORD)


def test_a_new_question_reaches_the_subscribed_device_signed_and_encrypted_for_it(app, admin, product_id):
    client, token, _ = admin
    phone = Browser()
    with PushService() as service:
        answer = subscribe(client, token, phone.subscription(service.endpoint()))
        assert answer.status_code == 201
        assert set(answer.get_json()) == {"id"}
        inquiry_id = make_inquiry(app, product_id, "Does it come in blue?")
        assert deliver(app).delivered == 1
        [request] = service.wait_for(1)
        with app.app_context():
            key = push_delivery.public_key()
        claims = verified_claims(request, key, service.origin)
        assert claims["sub"].startswith("mailto:")
        assert request["headers"]["TTL"] == "3600"
        assert request["headers"]["Urgency"] == "normal"
        note = phone.decrypt(request)
    # "Show message text" off (the default): the product only, nothing of the customer's words.
    assert note["title"] == f"New question about {product_name(app, product_id)}"
    assert note["body"] == ""
    assert "blue" not in str(note)
    assert note["url"] == f"/admin/inquiries/{inquiry_id}"
    with app.app_context():
        delivery = db.session.scalar(sa.select(PushDelivery))
        assert delivery.status == "delivered" and delivery.payload == ""


def test_with_show_text_the_words_are_pushed_and_an_urgent_question_is_urgent(app, admin, product_id):
    client, token, _ = admin
    phone = Browser()
    with PushService() as service:
        assert subscribe(client, token, phone.subscription(service.endpoint(), show_text=True)).status_code == 201
        make_inquiry(app, product_id, "URGENT: the parcel arrived broken")
        deliver(app)
        [request] = service.wait_for(1)
        assert request["headers"]["Urgency"] == "high"
        assert phone.decrypt(request)["body"] == "URGENT: the parcel arrived broken"


def test_a_follow_up_pushes_and_an_answer_does_not(app, admin, product_id):
    client, token, ids = admin
    phone = Browser()
    with PushService() as service:
        subscribe(client, token, phone.subscription(service.endpoint()))
        session = "shopper-1"
        inquiry_id = make_inquiry(app, product_id, "Hello?", session=session)
        with app.app_context():
            me = db.session.get(User, ids["me"])
            inquiries.respond(inquiry_id, me, "Hi, how can we help?")
        make_inquiry(app, product_id, "Is it in stock?", session=session)
        deliver(app)
        titles = [phone.decrypt(r)["title"] for r in service.wait_for(2)]
    name = product_name(app, product_id)
    assert titles == [f"New question about {name}", f"New message about {name}"]


def test_an_inquiry_assigned_to_another_admin_is_pushed_to_them_only(app, admin, product_id):
    client, token, ids = admin
    mine, bos = Browser(), Browser()
    bo, bo_token = bo_client(app)
    with PushService() as service:
        subscribe(client, token, mine.subscription(service.endpoint("mine")))
        subscribe(bo, bo_token, bos.subscription(service.endpoint("bos")))
        session = "shopper-2"
        inquiry_id = make_inquiry(app, product_id, "First", session=session)
        deliver(app)
        assert sorted(r["path"] for r in service.wait_for(2)) == ["/push/bos", "/push/mine"]
        with app.app_context():
            inquiries.assign(inquiry_id, db.session.get(User, ids["me"]), ids["bo"])
        make_inquiry(app, product_id, "Second", session=session)
        deliver(app)
        requests = service.wait_for(3)
        assert len(requests) == 3 and requests[2]["path"] == "/push/bos"
        assert bos.decrypt(requests[2])["title"].startswith("New message about")


@pytest.mark.parametrize("status", [404, 410])
def test_a_gone_subscription_is_dropped(app, admin, product_id, status):
    client, token, _ = admin
    with PushService([status]) as service:
        subscribe(client, token, Browser().subscription(service.endpoint()))
        make_inquiry(app, product_id, "Anyone there?")
        totals = deliver(app)
        assert totals.dropped == 1
        make_inquiry(app, product_id, "Hello again")
        deliver(app)
        assert len(service.requests) == 1
    assert subscriptions(app) == []


def test_a_5xx_or_429_is_retried_until_delivered(app, admin, product_id):
    client, token, _ = admin
    phone = Browser()
    with PushService([503, 429, 201]) as service:
        subscribe(client, token, phone.subscription(service.endpoint()))
        make_inquiry(app, product_id, "Retry me")
        assert deliver(app).failed == 1
        assert deliver(app).failed == 1
        assert deliver(app).delivered == 1
        requests = service.wait_for(3)
        # The same notification every time, each encrypted afresh.
        assert [phone.decrypt(r)["title"] for r in requests] == [phone.decrypt(requests[0])["title"]] * 3
        assert len({r["body"] for r in requests}) == 3
    with app.app_context():
        delivery = db.session.scalar(sa.select(PushDelivery))
        assert (delivery.status, delivery.attempts) == ("delivered", 3)


def test_a_retry_waits_for_its_backoff_and_gives_up_with_the_ttl(app, admin, product_id):
    client, token, _ = admin
    app.config.update(PUSH_FIRST_RETRY_SECONDS=60, PUSH_TTL_SECONDS=100)
    with PushService([500]) as service:
        subscribe(client, token, Browser().subscription(service.endpoint()))
        make_inquiry(app, product_id, "Retry later")
        deliver(app)
        deliver(app)  # not due yet
        assert len(service.requests) == 1
        with app.app_context():
            delivery = db.session.scalar(sa.select(PushDelivery))
            assert delivery.status == "pending" and delivery.next_attempt_at > delivery.created_at
            delivery.next_attempt_at = delivery.created_at
            db.session.commit()
        deliver(app)  # the next retry (after 120 s) would fall past the TTL: given up
        assert len(service.requests) == 2
    with app.app_context():
        delivery = db.session.scalar(sa.select(PushDelivery))
        assert delivery.status == "failed" and delivery.payload == ""


def test_the_at_once_path_sends_right_after_the_commit(app, admin, product_id):
    client, token, _ = admin
    app.config["PUSH_DELIVER_AT_ONCE"] = True
    phone = Browser()
    with PushService() as service:
        subscribe(client, token, phone.subscription(service.endpoint()))
        make_inquiry(app, product_id, "Quick!")
        [request] = service.wait_for(1)
        assert phone.decrypt(request)["title"].startswith("New question")


# -- subscriptions belong to a session --------------------------------------------------------


def test_logging_out_drops_that_sessions_subscriptions_only(app, admin, product_id):
    client, token, _ = admin
    bo, bo_token = bo_client(app)
    with PushService() as service:
        subscribe(client, token, Browser().subscription(service.endpoint("mine")))
        subscribe(bo, bo_token, Browser().subscription(service.endpoint("bos")))
        assert len(subscriptions(app)) == 2
        client.post("/admin/logout", data={"csrf_token": token})
        make_inquiry(app, product_id, "Who hears this?")
        deliver(app)
        assert [r["path"] for r in service.wait_for(1)] == ["/push/bos"]
    assert len(subscriptions(app)) == 1


def test_log_out_everywhere_password_change_and_deactivation_drop_subscriptions(app, admin, demo):
    client, token, ids = admin
    with PushService() as service:
        # A second session of the same admin (a phone), subscribed.
        phone, phone_token = app.test_client(), None
        phone_token = admin_login(phone, demo["admin_email"], demo["admin_password"])
        subscribe(phone, phone_token, Browser().subscription(service.endpoint("phone")))
        subscribe(client, token, Browser().subscription(service.endpoint("desk")))
        assert len(subscriptions(app)) == 2
        # A password change ends the other sessions: the phone's subscription goes, this one stays.
        changed = client.post(
            "/admin/account/password",
            data={
                "csrf_token": token,
                "current_password": demo["admin_password"],
                "new_password": "a-new-password-1",
                "confirm_password": "a-new-password-1",
            },
        )
        assert changed.status_code == 302
        with app.app_context():
            left = db.session.scalars(sa.select(PushSubscription.endpoint)).all()
        assert left == [service.endpoint("desk")]
        client.post("/admin/logout/everywhere", data={"csrf_token": token})
        assert subscriptions(app) == []
        bo, bo_token = bo_client(app)
        subscribe(bo, bo_token, Browser().subscription(service.endpoint("bo")))
        with app.app_context():
            admin_sessions.set_active(db.session.get(User, ids["bo"]), False)
        assert subscriptions(app) == []


def test_an_api_token_cannot_subscribe_and_one_admin_cannot_remove_anothers_device(app, admin):
    client, token, ids = admin
    with app.app_context():
        secret = admin_tokens.create(db.session.get(User, ids["me"]), "script")
    with PushService() as service:
        refused = app.test_client().post(
            "/api/admin/push-subscriptions",
            json=Browser().subscription(service.endpoint()),
            headers={"Authorization": f"Bearer {secret}"},
        )
        assert refused.status_code == 403
        bo, bo_token = bo_client(app)
        bos = subscribe(bo, bo_token, Browser().subscription(service.endpoint("bo"))).get_json()["id"]
        answer = client.delete(f"/api/admin/push-subscriptions/{bos}", headers={"X-CSRFToken": token})
        assert answer.status_code == 404
        assert bo.delete(f"/api/admin/push-subscriptions/{bos}", headers={"X-CSRFToken": bo_token}).status_code == 204
        assert subscriptions(app) == []


def test_the_same_browser_subscribing_again_keeps_one_row(app, admin):
    client, token, _ = admin
    phone = Browser()
    with PushService() as service:
        first = subscribe(client, token, phone.subscription(service.endpoint())).get_json()["id"]
        again = subscribe(client, token, phone.subscription(service.endpoint(), show_text=True)).get_json()["id"]
    assert first == again and subscriptions(app) == [first]


@pytest.mark.parametrize(
    "change, field",
    [
        ({"endpoint": "ftp://push.example/x"}, "endpoint"),
        ({"keys": {"p256dh": "AAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}}, "keys.p256dh"),
        ({"keys": {"auth": "AAAA"}}, "keys.p256dh"),
        ({"show_text": "yes"}, "show_text"),
    ],
)
def test_a_malformed_subscription_is_a_422_naming_the_field(app, admin, change, field):
    client, token, _ = admin
    body = Browser().subscription("https://push.example/x") | change
    answer = subscribe(client, token, body)
    assert answer.status_code == 422
    assert field in answer.get_json()["fields"]
    assert subscriptions(app) == []


@pytest.mark.parametrize("app_config", [{"PUSH_DELIVER_AT_ONCE": False}])
@pytest.mark.parametrize(
    "endpoint",
    ["http://push.example/x", "https://127.0.0.1/x", "https://10.0.0.7/x", "https://169.254.169.254/x"],
)
def test_push_endpoints_must_be_https_and_public(app, admin, endpoint):
    client, token, _ = admin
    answer = subscribe(client, token, Browser().subscription(endpoint))
    assert answer.status_code == 422 and "endpoint" in answer.get_json()["fields"]
    assert subscriptions(app) == []


@pytest.mark.parametrize("app_config", [{"PUSH_DELIVER_AT_ONCE": False}])
def test_an_endpoint_that_resolves_to_a_private_address_is_refused_at_send_time(app, admin, product_id):
    client, token, ids = admin
    with app.app_context():
        # Stored while allowed (or a DNS name that later resolves inside): the send checks again.
        session_id = db.session.scalar(sa.select(AdminSession.id).where(AdminSession.user_id == ids["me"]))
        db.session.add(
            PushSubscription(
                user_id=ids["me"],
                admin_session_id=session_id,
                endpoint="https://localhost.:9/x",
                endpoint_hash=push.endpoint_hash("https://localhost.:9/x"),
                **{k: v for k, v in Browser().subscription("")["keys"].items()},
            )
        )
        db.session.commit()
    make_inquiry(app, product_id, "Hello")
    assert deliver(app).failed == 1
    with app.app_context():
        delivery = db.session.scalar(sa.select(PushDelivery))
        assert delivery.status == "failed" and delivery.last_error.startswith("refused")


# -- preferences ------------------------------------------------------------------------


def test_an_admin_chooses_events_and_quiet_hours_in_the_sites_time_zone(app, admin, product_id):
    client, token, ids = admin
    with PushService() as service:
        subscribe(client, token, Browser().subscription(service.endpoint()))
        with app.app_context():
            me = db.session.get(User, ids["me"])
            push.set_preferences(me, ["customer_message"])
        make_inquiry(app, product_id, "A new question: not wanted")
        deliver(app)
        assert service.requests == []
        with app.app_context():
            me = db.session.get(User, ids["me"])
            site = db.session.scalar(sa.select(Site))
            site.timezone = "Asia/Tokyo"
            db.session.commit()
            # Quiet for the hour around now, Tokyo time.
            local = push_delivery.utcnow().replace(tzinfo=push.UTC).astimezone(push.hours.Hours.of(site).tz)
            start = (local - timedelta(minutes=30)).strftime("%H:%M")
            end = (local + timedelta(minutes=30)).strftime("%H:%M")
            push.set_preferences(me, ["new_question", "customer_message"], start, end)
            assert push.is_quiet(push.preferences_of(me), site, push_delivery.utcnow())
        make_inquiry(app, product_id, "In quiet hours")
        deliver(app)
        assert service.requests == []
        with app.app_context():
            push.set_preferences(db.session.get(User, ids["me"]), ["new_question"])
        make_inquiry(app, product_id, "After quiet hours")
        deliver(app)
        assert len(service.wait_for(1)) == 1


def test_quiet_hours_across_midnight(app):
    pref = push.PushPreference(quiet_start=22 * 60, quiet_end=7 * 60)
    site = Site(timezone="UTC")
    at = push_delivery.utcnow().replace(hour=23, minute=0)
    assert push.is_quiet(pref, site, at)
    assert push.is_quiet(pref, site, at.replace(hour=6, minute=59))
    assert not push.is_quiet(pref, site, at.replace(hour=7, minute=0))
    assert not push.is_quiet(pref, site, at.replace(hour=12))


def test_the_account_page_lists_devices_removes_one_and_saves_preferences(app, admin):
    client, token, ids = admin
    with PushService() as service:
        sub_id = subscribe(client, token, Browser().subscription(service.endpoint())).get_json()["id"]
    page = client.get("/admin/account").get_data(as_text=True)
    assert f'id="device-{sub_id}"' in page and "(this device)" in page
    bo, bo_token = bo_client(app)
    # Bo cannot remove my device through the page either.
    assert bo.post(f"/admin/account/devices/{sub_id}/remove", data={"csrf_token": bo_token}).status_code == 404
    done = client.post(f"/admin/account/devices/{sub_id}/remove", data={"csrf_token": token})
    assert done.status_code == 302 and subscriptions(app) == []
    assert "No device is notified yet." in client.get("/admin/account").get_data(as_text=True)
    bad = client.post(
        "/admin/account/push-preferences",
        data={"csrf_token": token, "events": "new_question", "quiet_start": "22:00", "quiet_end": ""},
    )
    assert bad.status_code == 422 and 'id="push-error"' in bad.get_data(as_text=True)
    saved = client.post(
        "/admin/account/push-preferences",
        data={"csrf_token": token, "events": "new_question", "quiet_start": "22:00", "quiet_end": "07:30"},
    )
    assert saved.status_code == 302
    with app.app_context():
        preference = push.preferences_of(db.session.get(User, ids["me"]))
        assert (preference.event_list, preference.quiet_start, preference.quiet_end) == (["new_question"], 1320, 450)
    page = client.get("/admin/account").get_data(as_text=True)
    assert 'value="22:00"' in page and 'value="07:30"' in page


def test_the_vapid_key_is_kept_under_instance_or_taken_from_the_setting(app, tmp_path):
    with app.app_context():
        kept = push_delivery.public_key()
    assert (tmp_path / "instance" / push_delivery.KEY_FILE).exists()
    push_delivery._vapid_cache.clear()  # a restart: the same key is read back
    with app.app_context():
        assert push_delivery.public_key() == kept
    private = push_delivery.new_private_key()
    app.config["VAPID_PRIVATE_KEY"] = private
    with app.app_context():
        assert push_delivery.public_key() == push_delivery.public_key_of(private) != kept


def test_erasing_a_customer_deletes_the_pushes_that_quote_them(app, admin, product_id):
    client, token, _ = admin
    with PushService([503]) as service:
        subscribe(client, token, Browser().subscription(service.endpoint(), show_text=True))
        inquiry_id = make_inquiry(app, product_id, "my address is 1 Secret Lane")
        deliver(app)  # 503: still waiting for its retry, with the customer's words
        with app.app_context():
            assert "Secret Lane" in db.session.scalar(sa.select(PushDelivery.payload))
            privacy.erase(privacy.find_customer(inquiry_id=inquiry_id))
            assert db.session.scalar(sa.select(sa.func.count(PushDelivery.id))) == 0


def test_a_retried_send_with_the_same_client_id_pushes_once(app, admin, product_id):
    client, token, _ = admin
    with PushService() as service:
        subscribe(client, token, Browser().subscription(service.endpoint()))
        with app.app_context():
            for _ in range(3):
                conversations.send_customer_message(
                    product_id, "shopper-3", "Once", client_msg_id="6f1c2b9e-2f7a-4c55-9d38-0b1e9a7d4c21"
                )
        deliver(app)
        assert len(service.wait_for(1)) == 1
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(PushDelivery.id))) == 1


def test_the_vapid_keys_command_prints_a_usable_key_pair(app, runner):
    out = runner.invoke(args=["chat", "vapid-keys"]).output
    private = re.search(r"^VAPID_PRIVATE_KEY=([\w-]+)$", out, re.M).group(1)
    public = re.search(r"public key \(browsers subscribe with it\): ([\w-]+)$", out, re.M).group(1)
    assert push_delivery.public_key_of(private) == public
    assert len(public) == 87  # base64url of the 65-byte uncompressed point


def test_send_a_test_reaches_that_device_only_and_only_for_its_owner(app, admin):
    client, token, _ = admin
    phone = Browser()
    with PushService() as service:
        mine = subscribe(client, token, phone.subscription(service.endpoint())).get_json()["id"]
        bo, bo_token = bo_client(app)
        assert bo.post(f"/admin/account/devices/{mine}/test", data={"csrf_token": bo_token}).status_code == 404
        assert client.post(f"/admin/account/devices/{mine}/test", data={"csrf_token": token}).status_code == 302
        deliver(app)
        [request] = service.wait_for(1)
        note = phone.decrypt(request)
    assert note["title"] == "Test notification from Product chat" and note["url"] == "/admin/account"
