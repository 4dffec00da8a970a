"""Webhooks: signed events from the outbox, checked by a receiver in the test with the
Standard Webhooks reference library (``standardwebhooks``), on SQLite and MariaDB."""

import json
import socket
import time
from datetime import timedelta

import pytest
import sqlalchemy as sa
import standardwebhooks

from chat import webhook_delivery
from chat.extensions import db
from chat.models import (
    WEBHOOK_EVENTS,
    OutboxEmail,
    ProductInquiry,
    User,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from chat.services import conversations, inquiries, notes, privacy, questions, ratings, sites, webhooks

from .chat_helpers import first_product_id, make_inquiry
from .webhook_receiver import Receiver


@pytest.fixture
def app_config():
    # The worker's round is called by each test itself (deliver()); the at-once path has its own test.
    return {"WEBHOOK_ALLOW_PRIVATE": True, "WEBHOOK_DELIVER_AT_ONCE": False, "WEBHOOK_FIRST_RETRY_SECONDS": 0}


@pytest.fixture
def product_id(app, demo):
    return first_product_id(app)


def add_endpoint(app, url, events=WEBHOOK_EVENTS, site=None):
    with app.app_context():
        endpoint, secret = webhooks.create(None, url, list(events), site)
        return endpoint.id, secret


def deliver(app):
    with app.app_context():
        return webhook_delivery.deliver_due()


def deliveries(app):
    with app.app_context():
        return [
            {
                "id": d.id,
                "type": d.event_type,
                "status": d.status,
                "webhook_id": d.webhook_id,
                "codes": [a.status_code for a in d.attempt_log],
                "errors": [a.error for a in d.attempt_log],
                "ms": [a.response_ms for a in d.attempt_log],
                "payload": json.loads(d.payload),
            }
            for d in db.session.scalars(sa.select(WebhookDelivery).order_by(WebhookDelivery.id))
        ]


def test_a_customers_question_arrives_signed_and_verifies_with_the_standardwebhooks_library(app, product_id):
    with Receiver() as receiver:
        _, secret = add_endpoint(app, receiver.url)
        inquiry_id = make_inquiry(app, product_id, "Does it come in blue?")
        assert deliver(app).delivered == 2
        first, second = receiver.wait_for(2)
        created, message = receiver.verified(secret, first), receiver.verified(secret, second)
        assert [created["type"], message["type"]] == ["inquiry.created", "message.created"]
        assert first["headers"]["webhook-signature"].startswith("v1,")
        assert first["headers"]["webhook-id"] != second["headers"]["webhook-id"]
        assert message["data"]["message"]["text"] == "Does it come in blue?"
        assert message["data"]["message"]["sender_type"] == "customer"
        assert message["data"]["inquiry"]["id"] == inquiry_id
        assert message["data"]["inquiry"]["site"] == "demo"
        assert created["data"]["inquiry"]["admin_url"].endswith(f"/admin/inquiries/{inquiry_id}")
        # A body changed on the way, or another secret, does not verify.
        with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
            receiver.verified(secret, dict(second, body=second["body"].replace(b"blue", b"red!")))
        with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
            receiver.verified(webhooks.new_secret(), second)
    assert [d["status"] for d in deliveries(app)] == ["delivered", "delivered"]


def test_500_then_200_is_one_delivery_recorded_with_both_attempts_and_the_same_id(app, product_id):
    with Receiver([500, 200]) as receiver:
        _, secret = add_endpoint(app, receiver.url, ["inquiry.created"])
        make_inquiry(app, product_id, "Is it waterproof?")
        assert deliver(app).failed == 1
        assert deliver(app).delivered == 1
        first, second = receiver.wait_for(2)
        assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
        assert receiver.verified(secret, first) == receiver.verified(secret, second)
    [delivery] = deliveries(app)
    assert delivery["status"] == "delivered" and delivery["codes"] == [500, 200]
    assert delivery["errors"][0] == "HTTP 500: receiver says no" and delivery["errors"][1] is None
    assert all(ms is not None and ms >= 0 for ms in delivery["ms"])


def test_a_receiver_that_hangs_is_cut_at_the_timeout_and_retried_with_the_same_id(app, product_id):
    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 1.0
    with Receiver(["hang", 200]) as receiver:
        _, secret = add_endpoint(app, receiver.url, ["inquiry.created"])
        make_inquiry(app, product_id, "Hello?")
        started = time.monotonic()
        assert deliver(app).failed == 1
        # The attempt ends at the (configured) timeout, not when the receiver gives up.
        assert time.monotonic() - started < 5
        assert deliver(app).delivered == 1
        first, second = receiver.wait_for(2)
        assert first["headers"]["webhook-id"] == second["headers"]["webhook-id"]
        receiver.verified(secret, second)
    [delivery] = deliveries(app)
    assert delivery["codes"] == [None, 200] and delivery["errors"][0].startswith("timed out")


def test_events_of_one_inquiry_arrive_in_order_a_later_one_waits_for_an_earlier_ones_success(app, product_id):
    app.config["WEBHOOK_FIRST_RETRY_SECONDS"] = 600
    with Receiver([500, 200]) as receiver:
        _, secret = add_endpoint(app, receiver.url, ["message.created", "inquiry.updated"])
        inquiry_id = make_inquiry(app, product_id, "first")
        with app.app_context():
            admin = db.session.scalar(sa.select(User))
            session_id = db.session.get(ProductInquiry, inquiry_id).session_id
            conversations.send_customer_message(product_id, session_id, "second")
            inquiries.respond(inquiry_id, admin, "third, the answer")
        # The first message fails and waits ten minutes: nothing after it in this inquiry may go,
        # but another inquiry's events do.
        assert deliver(app).failed == 1
        other = make_inquiry(app, product_id, "another inquiry is not held up")
        assert deliver(app).delivered == 1
        assert receiver.verified(secret, receiver.requests[1])["data"]["inquiry"]["id"] == other
        with app.app_context():
            db.session.execute(sa.update(WebhookDelivery).values(next_attempt_at=utcnow()))
            db.session.commit()
        # Once the first succeeds, the ones it held go at once, in order, in the same round.
        assert deliver(app).delivered == 4
        sent = [receiver.verified(secret, r) for r in receiver.wait_for(6)]
    texts = [(e["type"], e["data"].get("message", {}).get("text")) for e in sent[2:]]
    assert texts == [
        ("message.created", "first"),
        ("message.created", "second"),
        ("message.created", "third, the answer"),
        ("inquiry.updated", None),
    ]
    assert sent[5]["data"]["changes"] == {"status": {"from": "pending", "to": "in_progress"}}


def test_private_addresses_and_plain_http_are_refused_without_the_setting(app, product_id, monkeypatch):
    app.config["WEBHOOK_ALLOW_PRIVATE"] = False
    with app.app_context():
        for url in (
            "http://hooks.shop.example/",
            "https://127.0.0.1/hooks",
            "https://10.1.2.3/",
            "https://[::1]/",
            "https://169.254.169.254/latest/meta-data",
            "https://localhost/",
            "https://user:pass@hooks.shop.example/",
        ):
            with pytest.raises(webhooks.ValidationError) as refused:
                webhooks.create(None, url, ["inquiry.created"])
            assert "url" in refused.value.fields, url
    with Receiver() as receiver:
        # A public-looking name that resolves to this machine at send time (DNS rebinding).
        real = socket.getaddrinfo

        def resolve(host, port, *args, **kwargs):
            if host == "hooks.shop.example":
                return real("127.0.0.1", port, *args, **kwargs)
            return real(host, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", resolve)
        add_endpoint(app, f"https://hooks.shop.example:{receiver.port}/hooks", ["inquiry.created"])
        make_inquiry(app, product_id, "Hello")
        assert deliver(app).failed == 1
        time.sleep(0.2)
        assert receiver.requests == []
    [delivery] = deliveries(app)
    assert delivery["errors"] == [
        "refused: the URL the host name resolves to an address that is not public (127.0.0.1)"
    ]


def test_the_connection_goes_to_the_address_that_was_resolved_once(app, product_id, monkeypatch):
    with Receiver() as receiver:
        real, asked = socket.getaddrinfo, []

        def resolve(host, port, *args, **kwargs):
            if host == "hooks.shop.example":
                asked.append(host)
                return real("127.0.0.1", port, *args, **kwargs)
            return real(host, port, *args, **kwargs)

        monkeypatch.setattr(socket, "getaddrinfo", resolve)
        _, secret = add_endpoint(app, f"http://hooks.shop.example:{receiver.port}/in", ["inquiry.created"])
        make_inquiry(app, product_id, "Hello")
        assert deliver(app).delivered == 1
        [request] = receiver.requests
    assert asked == ["hooks.shop.example"]
    assert request["headers"]["Host"] == f"hooks.shop.example:{receiver.port}" and request["path"] == "/in"


def test_redirects_are_not_followed(app, product_id):
    with Receiver([200]) as elsewhere, Receiver([302], headers={"Location": elsewhere.url}) as receiver:
        add_endpoint(app, receiver.url, ["inquiry.created"])
        make_inquiry(app, product_id, "Hello")
        assert deliver(app).failed == 1
        receiver.wait_for(1)
        time.sleep(0.2)
        assert elsewhere.requests == []
    [delivery] = deliveries(app)
    assert delivery["codes"] == [302] and "redirects are not followed" in delivery["errors"][0]


def test_a_rotated_secret_signs_beside_the_old_one_during_the_overlap_then_alone(app, product_id):
    with Receiver() as receiver:
        endpoint_id, old = add_endpoint(app, receiver.url, ["inquiry.created"])
        with app.app_context():
            endpoint, new = webhooks.rotate_secret(endpoint_id)
            assert endpoint.previous_secret_until - utcnow() > timedelta(hours=23.9)
        make_inquiry(app, product_id, "During the overlap")
        deliver(app)
        [during] = receiver.wait_for(1)
        assert len(during["headers"]["webhook-signature"].split(" ")) == 2
        receiver.verified(old, during)
        receiver.verified(new, during)
        with app.app_context():
            db.session.get(WebhookEndpoint, endpoint_id).previous_secret_until = utcnow() - timedelta(seconds=1)
            db.session.commit()
        make_inquiry(app, product_id, "After the overlap")
        deliver(app)
        _, after = receiver.wait_for(2)
        assert len(after["headers"]["webhook-signature"].split(" ")) == 1
        receiver.verified(new, after)
        with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
            receiver.verified(old, after)


def test_payloads_never_carry_notes_workflow_lines_account_names_or_session_ids(app, product_id):
    with Receiver() as receiver:
        add_endpoint(app, receiver.url)
        inquiry_id = make_inquiry(app, product_id, "Can I return it?")
        with app.app_context():
            admin = db.session.scalar(sa.select(User))
            admin.name, admin.public_name = "Account Name Zed", "Sam from the shop"
            db.session.commit()
            session_id = db.session.get(ProductInquiry, inquiry_id).session_id
            notes.add(inquiry_id, admin, "private: the customer is a reseller")
            inquiries.respond(inquiry_id, admin, "Yes, within 30 days.")
            inquiries.set_priority(inquiry_id, admin, "high")
            inquiries.assign(inquiry_id, admin, admin.id)
            inquiries.set_status(inquiry_id, admin, "resolved")
            ratings.rate(db.session.get(ProductInquiry, inquiry_id), "good", "quick!")
        deliver(app)
    sent = b"".join(r["body"] for r in receiver.requests)
    assert b"reseller" not in sent and b"Account Name Zed" not in sent and session_id.encode() not in sent
    assert b"Marked" not in sent  # no workflow line ("Marked in progress by ...", "Marked as answered")
    types = [d["type"] for d in deliveries(app)]
    assert types == [
        "inquiry.created",
        "message.created",
        "message.created",
        "inquiry.updated",
        "inquiry.updated",
        "inquiry.updated",
        "inquiry.updated",
        "rating.created",
    ]
    answer = deliveries(app)[2]["payload"]["data"]["message"]
    assert answer["sender_name"] == "Sam from the shop" and answer["sender_type"] == "admin"
    changes = [d["payload"]["data"]["changes"] for d in deliveries(app) if d["type"] == "inquiry.updated"]
    assert changes == [
        {"status": {"from": "pending", "to": "in_progress"}},
        {"priority": {"from": "medium", "to": "high"}},
        {"assignee": {"from": None, "to": admin_id(app)}},
        {"status": {"from": "in_progress", "to": "resolved"}},
    ]
    rating = deliveries(app)[-1]["payload"]["data"]["rating"]
    assert (rating["rating"], rating["comment"]) == ("good", "quick!")


def admin_id(app):
    with app.app_context():
        return db.session.scalar(sa.select(User.id))


def test_an_endpoint_for_one_site_hears_only_that_sites_events(app, product_id):
    with app.app_context():
        other, _ = sites.create("Other shop", ["https://other.example"])
        from .chat_helpers import make_product

        other_product = make_product(name="Other's product")
        other_product.site_id = other.id
        db.session.commit()
        other_product_id, other_site = other_product.id, other.public_id
    with Receiver() as receiver:
        _, secret = add_endpoint(app, receiver.url, ["inquiry.created"], site=other_site)
        make_inquiry(app, product_id, "demo shop question")
        make_inquiry(app, other_product_id, "other shop question")
        deliver(app)
        [request] = receiver.wait_for(1)
        assert receiver.verified(secret, request)["data"]["inquiry"]["site"] == other_site


def test_a_published_question_is_an_event(app, product_id):
    inquiry_id = make_inquiry(app, product_id, "Is it dishwasher safe?")
    with Receiver() as receiver:
        _, secret = add_endpoint(app, receiver.url, ["question.published"])
        with app.app_context():
            questions.publish(inquiry_id, None, "Is it dishwasher safe?", "Yes, up to 60 °C.")
        deliver(app)
        [request] = receiver.wait_for(1)
        question = receiver.verified(secret, request)["data"]["question"]
    assert (question["question"], question["answer"]) == ("Is it dishwasher safe?", "Yes, up to 60 °C.")
    assert question["product"]["id"] == product_id


def test_a_failing_delivery_backs_off_exponentially_and_is_given_up_only_after_24_hours(app, product_id):
    app.config["WEBHOOK_FIRST_RETRY_SECONDS"] = 10
    with Receiver([503]) as receiver:
        add_endpoint(app, receiver.url, ["inquiry.created"])
        make_inquiry(app, product_id, "Hello")
        delays = []
        with app.app_context():
            for _ in range(4):
                delivery = db.session.scalar(sa.select(WebhookDelivery))
                delivery.next_attempt_at = utcnow()
                db.session.commit()
                before = utcnow()
                webhook_delivery.deliver_due()
                db.session.expire_all()
                delivery = db.session.scalar(sa.select(WebhookDelivery))
                delays.append((delivery.next_attempt_at - before).total_seconds())
            # 10 s, 20 s, 40 s, 80 s (with 10 % jitter)
            for n, delay in enumerate(delays):
                assert 9 * 2**n <= delay <= 11.5 * 2**n, delays
            delivery.created_at = utcnow() - timedelta(hours=23, minutes=50)
            delivery.next_attempt_at = utcnow()
            db.session.commit()
            webhook_delivery.deliver_due()
            db.session.expire_all()
            assert db.session.scalar(sa.select(WebhookDelivery.status)) == "pending"
            delivery = db.session.scalar(sa.select(WebhookDelivery))
            delivery.created_at = utcnow() - timedelta(hours=24, minutes=1)
            delivery.next_attempt_at = utcnow()
            db.session.commit()
            webhook_delivery.deliver_due()
            db.session.expire_all()
            assert db.session.scalar(sa.select(WebhookDelivery.status)) == "failed"
        assert len(receiver.requests) == 6


def test_an_endpoint_failing_for_three_days_is_disabled_and_its_admins_are_mailed(app, product_id):
    with Receiver([500]) as receiver:
        endpoint_id, _ = add_endpoint(app, receiver.url, ["message.created"])
        make_inquiry(app, product_id, "one")
        make_inquiry(app, product_id, "two")
        with app.app_context():
            db.session.get(WebhookEndpoint, endpoint_id).failing_since = utcnow() - timedelta(hours=71)
            db.session.commit()
        deliver(app)
        with app.app_context():
            assert db.session.get(WebhookEndpoint, endpoint_id).disabled_at is None
            db.session.get(WebhookEndpoint, endpoint_id).failing_since = utcnow() - timedelta(hours=72, minutes=1)
            db.session.execute(sa.update(WebhookDelivery).values(next_attempt_at=utcnow()))
            db.session.commit()
        deliver(app)
        with app.app_context():
            endpoint = db.session.get(WebhookEndpoint, endpoint_id)
            assert endpoint.disabled_at is not None and "72 hours" in endpoint.disabled_reason
            mails = db.session.scalars(sa.select(OutboxEmail).where(OutboxEmail.dedupe_key.like("webhook-disabled:%")))
            admins = db.session.scalars(sa.select(User.email).where(User.is_active.is_(True))).all()
            mails = list(mails)
            assert sorted(m.to_addr for m in mails) == sorted(admins)
            assert receiver.url in mails[0].body_text and f"/admin/webhooks/{endpoint_id}" in mails[0].body_text
            assert set(db.session.scalars(sa.select(WebhookDelivery.status))) == {"failed"}
        seen = len(receiver.requests)
        make_inquiry(app, product_id, "three")
        deliver(app)
        assert len(receiver.requests) == seen  # nothing more goes to a disabled endpoint


def test_410_gone_disables_the_endpoint(app, product_id):
    with Receiver([410]) as receiver:
        endpoint_id, _ = add_endpoint(app, receiver.url, ["inquiry.created"])
        make_inquiry(app, product_id, "Hello")
        deliver(app)
        receiver.wait_for(1)
    with app.app_context():
        assert "410" in db.session.get(WebhookEndpoint, endpoint_id).disabled_reason


def test_a_new_event_is_sent_right_after_its_commit_without_the_worker(app, product_id, client):
    app.config["WEBHOOK_DELIVER_AT_ONCE"] = True
    with Receiver() as receiver:
        _, secret = add_endpoint(app, receiver.url, ["message.created"])
        response = client.post(
            f"/api/products/{product_id}/messages",
            json={"message_text": "Sent at once?"},
            headers={"X-Requested-With": "test"},
        )
        assert response.status_code == 201
        [request] = receiver.wait_for(1, seconds=10)
        assert receiver.verified(secret, request)["data"]["message"]["text"] == "Sent at once?"
        deadline = time.monotonic() + 5
        while deliveries(app)[0]["status"] != "delivered" and time.monotonic() < deadline:
            time.sleep(0.05)
    assert deliveries(app)[0]["status"] == "delivered"
    assert deliver(app).delivered == 0  # the worker finds nothing left to send


def test_erasing_a_customer_deletes_the_payloads_that_quote_them(app, product_id):
    with Receiver([500]) as receiver:
        add_endpoint(app, receiver.url, ["message.created"])
        inquiry_id = make_inquiry(app, product_id, "my address is 1 Secret Lane")
        deliver(app)
        with app.app_context():
            privacy.erase(privacy.find_customer(inquiry_id=inquiry_id))
            assert db.session.scalar(sa.select(sa.func.count(WebhookDelivery.id))) == 0
            assert db.session.scalar(sa.select(sa.func.count(WebhookAttempt.id))) == 0


def test_a_test_event_and_a_redelivery_carry_their_ids(app, product_id):
    with Receiver() as receiver:
        endpoint_id, secret = add_endpoint(app, receiver.url, ["inquiry.created"])
        with app.app_context():
            test = webhooks.send_test(endpoint_id)
            test_id = test.webhook_id
        deliver(app)
        [request] = receiver.wait_for(1)
        assert receiver.verified(secret, request)["type"] == "webhook.test"
        with app.app_context():
            webhooks.redeliver(endpoint_id, db.session.scalar(sa.select(WebhookDelivery.id)))
        deliver(app)
        _, again = receiver.wait_for(2)
        assert again["headers"]["webhook-id"] == test_id and again["body"] == request["body"]
    assert [d["status"] for d in deliveries(app)] == ["delivered", "delivered"]


def test_two_endpoints_get_one_event_under_one_id_each_signed_with_its_own_secret(app, product_id):
    with Receiver() as one, Receiver() as two:
        _, secret_one = add_endpoint(app, one.url, ["inquiry.created"])
        _, secret_two = add_endpoint(app, two.url, ["inquiry.created"])
        make_inquiry(app, product_id, "Hello")
        deliver(app)
        [a], [b] = one.wait_for(1), two.wait_for(1)
        one.verified(secret_one, a)
        two.verified(secret_two, b)
        with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
            two.verified(secret_one, b)  # each endpoint has a secret of its own
    assert a["headers"]["webhook-id"] == b["headers"]["webhook-id"]  # one event, one id


def test_an_endpoint_removed_while_its_request_runs_leaves_no_error_and_no_log(app, product_id):
    import threading

    app.config["WEBHOOK_TIMEOUT_SECONDS"] = 2.0
    with Receiver(["hang"]) as receiver:
        endpoint_id, _ = add_endpoint(app, receiver.url, ["inquiry.created"])
        make_inquiry(app, product_id, "Hello")
        outcome = {}
        worker = threading.Thread(target=lambda: outcome.update(totals=deliver(app)))
        worker.start()
        receiver.wait_for(1)
        with app.app_context():
            webhooks.delete(endpoint_id)
        worker.join(10)
    assert outcome["totals"].delivered == outcome["totals"].failed == 0
    assert deliveries(app) == []


def test_every_payload_sent_is_the_one_the_openapi_document_describes(app, product_id):
    import jsonschema_rs

    document = app.test_client().get("/api/openapi.json").get_json()
    with Receiver() as receiver:
        endpoint_id, _ = add_endpoint(app, receiver.url)
        inquiry_id = make_inquiry(app, product_id, "Does it fit a 15-inch laptop?")
        with app.app_context():
            admin = db.session.scalar(sa.select(User))
            inquiries.respond(inquiry_id, admin, "Yes, up to 16 inches.")
            inquiries.assign(inquiry_id, admin, admin.id)
            inquiries.set_priority(inquiry_id, admin, "low")
            inquiries.set_status(inquiry_id, admin, "resolved")
            ratings.rate(db.session.get(ProductInquiry, inquiry_id), "bad", None)
            questions.publish(inquiry_id, admin, "Fits 15 inches?", "Up to 16.")
            webhooks.send_test(endpoint_id)
        deliver(app)
        sent = [json.loads(r["body"]) for r in receiver.wait_for(10)]
    assert {payload["type"] for payload in sent} == set(WEBHOOK_EVENTS) | {"webhook.test"} == set(document["webhooks"])
    for payload in sent:
        schema = document["webhooks"][payload["type"]]["post"]["requestBody"]["content"]["application/json"]["schema"]
        # The document's components resolve the schema's references; unknown fields are refused.
        jsonschema_rs.validate(dict(schema, components=document["components"]), payload)
    with pytest.raises(jsonschema_rs.ValidationError):
        leaked = dict(sent[0], data=dict(sent[0]["data"], session_id="abc"))
        schema = document["webhooks"][leaked["type"]]["post"]["requestBody"]["content"]["application/json"]["schema"]
        jsonschema_rs.validate(dict(schema, components=document["components"]), leaked)
