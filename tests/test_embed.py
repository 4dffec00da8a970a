"""The widget's iframe page and its fragments: header sessions, no cookies, per-site framing."""

import json
import re
import uuid

import sqlalchemy as sa

from chat.extensions import db
from chat.models import Product, ProductInquiry, ProductMessage
from chat.models import Shopper as ShopperRow
from chat.services import conversations, sites

from .chat_helpers import Shopper, count, message_ids, only_inquiry_id, sign_identity


def test_the_page_frames_only_on_the_sites_origins(app, client, demo):
    with app.app_context():
        site, _ = sites.create("Other shop", ["https://shop.example", "http://localhost:8000"])
        other = site.public_id
    page = client.get(f"/embed/{other}/products/sku-1")
    assert page.status_code == 200
    policy = page.headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://shop.example http://localhost:8000" in policy
    origins = json.loads(
        re.search(r'data-parent-origins="([^"]+)"', page.get_data(as_text=True)).group(1).replace("&#34;", '"')
    )
    assert "https://shop.example" in origins and "http://localhost:8000" in origins
    demo_page = client.get("/embed/demo/products/1")
    assert "frame-ancestors 'self';" in demo_page.headers["Content-Security-Policy"] + ";"
    assert client.get("/embed/no-such-site/products/1").status_code == 404
    # Other pages stay unframeable elsewhere.
    assert "frame-ancestors 'self'" in client.get("/").headers["Content-Security-Policy"]


def test_the_page_knows_the_product_or_waits_for_the_host_pages_title(app, client, demo):
    known = client.get("/embed/demo/products/1").get_data(as_text=True)
    assert "Trailhead 35L Hiking Backpack" in known and "€129.00" in known and 'data-known="1"' in known
    unknown = client.get("/embed/demo/products/not-synced-yet").get_data(as_text=True)
    assert "Ask about this product" in unknown and "data-known" not in unknown
    assert client.get("/embed/demo/products/" + "x" * 101).status_code == 404


def test_sessions_travel_in_the_header_never_in_a_cookie(app, demo):
    shopper = Shopper(app)
    sent = shopper.send("1", "<script>alert(1)</script>\nsecond line")
    assert sent.status_code == 201 and shopper.token
    assert "Set-Cookie" not in sent.headers or "chat_session" not in sent.headers.get("Set-Cookie", "")
    body = sent.get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\nsecond line" in body and "<script>alert(1)" not in body
    assert 'hx-swap-oob="true"' in body and "Get answers by email" in body  # the email option appears at once
    with app.app_context():
        session_id = db.session.scalar(sa.select(ProductInquiry.session_id))
    assert len(session_id) >= 22 and session_id not in shopper.token
    history = shopper.conversation("1")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in history and 'sse-connect="/embed/demo/stream?' in history


def test_another_session_cannot_see_or_touch_the_first_ones_conversation(app, demo):
    alice, mallory = Shopper(app), Shopper(app)
    alice.send("1", "alice's private question")
    assert "alice's private question" not in mallory.conversation("1")
    mallory.token = "forged.token"
    assert "alice's private question" not in mallory.conversation("1")
    assert mallory.post("/email", data={"customer_email": "m@evil.example", "email_consent": "yes"}).status_code == 404
    mallory.token = ""
    mallory.send("1", "mallory here")
    with app.app_context():
        texts = sorted([m.message_text for m in i.messages] for i in db.session.scalars(sa.select(ProductInquiry)))
    assert texts == [["alice's private question"], ["mallory here"]]


def test_a_form_post_without_header_or_csrf_token_is_refused(app, demo):
    client = app.test_client()
    forged = client.post("/embed/demo/products/1/messages", data={"message_text": "cross-site"})
    assert forged.status_code == 400
    assert count(app, ProductMessage) == 0


def test_bad_input_shows_a_message_and_stores_nothing(app, demo):
    shopper = Shopper(app)
    empty = shopper.send("1", "  \n ")
    assert empty.status_code == 422 and "Please type a message." in empty.get_data(as_text=True)
    long = shopper.send("1", "x" * 2001)
    assert long.status_code == 422 and "at most 2000 characters" in long.get_data(as_text=True)
    assert shopper.send("1", "hi", client_id="123").status_code == 422
    # A rejected first message about an unsynced product leaves no placeholder behind.
    assert shopper.send("brand-new", "").status_code == 422
    assert count(app, ProductMessage) == 0 and count(app, ProductInquiry) == 0
    with app.app_context():
        assert db.session.scalar(sa.select(Product).filter_by(external_id="brand-new")) is None


def test_resend_with_the_same_id_answers_with_the_same_message(app, demo):
    shopper = Shopper(app)
    client_id = str(uuid.uuid4())
    first, second = shopper.send("1", "once", client_id), shopper.send("1", "once", client_id)
    assert (first.status_code, second.status_code) == (201, 200)
    assert message_ids(first.get_data(as_text=True)) == message_ids(second.get_data(as_text=True))
    assert count(app, ProductMessage) == 1


def test_a_chat_about_an_unsynced_product_makes_a_placeholder_from_the_page(app, demo):
    shopper = Shopper(app)
    sent = shopper.send(
        "lamp-42", "Is the cable long?", page_title="  Brass Lamp  |  Shop ", page_url="http://127.0.0.1/lamps/42"
    )
    other_origin = Shopper(app).send("vase-1", "hi", page_title="Vase", page_url="https://elsewhere.example/x")
    assert sent.status_code == other_origin.status_code == 201
    with app.app_context():
        lamp = db.session.scalar(sa.select(Product).filter_by(external_id="lamp-42"))
        vase = db.session.scalar(sa.select(Product).filter_by(external_id="vase-1"))
        assert lamp.name == "Brass Lamp | Shop" and lamp.synced_at is None and lamp.price is None
        assert vase.page_url is None  # a host page cannot claim another site's address


def test_older_pages_and_polling_with_marks(app, demo):
    app.config["CHAT_PAGE_SIZE"] = 3
    shopper = Shopper(app)
    ids = [message_ids(shopper.send("1", f"m{i}").get_data(as_text=True))[0] for i in range(5)]
    history = shopper.conversation("1")
    assert message_ids(history) == ids[2:] and "Show earlier messages" in history
    older = shopper.get(f"/products/1/messages?before={ids[2]}").get_data(as_text=True)
    assert message_ids(older) == ids[:2]
    since = re.search(r'name="since" value="([^"]+)"', history).group(1)
    poll = f"/products/1/messages?after={ids[-1]}&since={since}"
    assert shopper.get(poll).status_code == 204  # nothing new: no body, no rendering
    with app.app_context():
        conversations.mark_read(only_inquiry_id(app), reader="admin")
        answer = conversations.add_admin_message(only_inquiry_id(app), "Yes!").message.id
    moved = shopper.get(poll)
    html = moved.get_data(as_text=True)
    assert moved.status_code == 200 and message_ids(html) == [answer]
    assert f'id="mark-{ids[-1]}" data-state="read"' in html and 'hx-swap-oob="beforeend:#marks-inbox"' in html
    assert json.loads(moved.headers["HX-Trigger"]) == {"chat:unread": 1}
    assert shopper.get("/products/1/messages?after=abc").status_code == 400
    assert shopper.get("/products/1/messages?after=1&since=yesterday").status_code == 400


def test_email_belongs_to_the_shopper_and_follows_them_to_other_products(app, demo):
    shopper = Shopper(app)
    assert shopper.post("/email", data={"customer_email": "ann@example.com", "email_consent": "yes"}).status_code == 404
    shopper.send("1", "question one")
    refused = shopper.post("/email", data={"customer_email": "ann@example.com"})
    assert refused.status_code == 422 and "tick the box" in refused.get_data(as_text=True)
    assert 'value="ann@example.com"' in refused.get_data(as_text=True)
    saved = shopper.post("/email", data={"customer_email": "ann@example.com", "email_consent": "yes"})
    assert saved.status_code == 200 and "ann@example.com" in saved.get_data(as_text=True)
    shopper.send("2", "question two")
    assert "We'll email <strong>ann@example.com</strong>" in shopper.conversation("2")
    with app.app_context():
        emails = db.session.scalars(sa.select(ProductInquiry.customer_email)).all()
    assert emails == ["ann@example.com", "ann@example.com"]
    forgotten = shopper.post("/email/forget")
    assert "Your email was removed" in forgotten.get_data(as_text=True)
    with app.app_context():
        assert set(db.session.scalars(sa.select(ProductInquiry.customer_email))) == {None}


def test_unread_answers_count_across_the_shoppers_conversations(app, demo):
    shopper = Shopper(app)
    shopper.send("1", "one")
    shopper.send("2", "two")
    with app.app_context():
        for inquiry in db.session.scalars(sa.select(ProductInquiry)):
            conversations.add_admin_message(inquiry.id, f"answer about {inquiry.product.name}")
    assert shopper.get("/unread").get_json() == {"unread": 2}
    questions = shopper.get("/conversations?current=1").get_data(as_text=True)
    assert questions.count("1 new") == 2 and "(this page)" in questions
    assert shopper.post("/products/1/read").get_json() == {"unread": 1}
    assert Shopper(app).get("/unread").get_json() == {"unread": 0}


def test_stream_tickets_are_single_use_short_lived_and_need_a_session(app, demo):
    shopper = Shopper(app)
    assert shopper.post("/stream-ticket").status_code == 401
    shopper.send("1", "hello")
    ticket = shopper.post("/stream-ticket").get_json()["ticket"]
    first = shopper.client.get(f"/embed/demo/stream?product=1&ticket={ticket}")
    assert first.status_code == 200 and first.mimetype == "text/event-stream"
    first.close()
    replayed = shopper.client.get(f"/embed/demo/stream?product=1&ticket={ticket}")
    assert replayed.status_code == 403
    assert shopper.client.get("/embed/demo/stream?product=1&ticket=forged").status_code == 403
    with app.app_context():
        other, _ = sites.create("Other", [])
        other_id = other.public_id
    fresh = shopper.post("/stream-ticket").get_json()["ticket"]
    assert shopper.client.get(f"/embed/{other_id}/stream?ticket={fresh}").status_code == 403


def test_a_verified_customer_gets_one_history_across_devices(app, demo):
    import time

    with app.app_context():
        secret = sites.demo_site().identity_secret
    stamp = str(int(time.time()))

    def identity(customer_id="c-17", email="kim@example.com", key=secret, timestamp=stamp):
        sig = sign_identity(key, customer_id, email, timestamp)
        return {"customer_id": customer_id, "email": email, "timestamp": timestamp, "signature": sig}

    laptop, phone, stranger = Shopper(app), Shopper(app), Shopper(app)
    laptop.send("1", "asked on my laptop")
    assert (
        laptop.client.post(
            "/embed/demo/identify", json=identity(), headers={"X-Chat-Session": laptop.token}
        ).status_code
        == 200
    )
    response = phone.client.post("/embed/demo/identify", json=identity(), headers={"X-Chat-Session": ""})
    assert response.status_code == 200
    phone._keep(response)
    assert "asked on my laptop" in phone.conversation("1")
    for bad in (
        identity(key="wrong"),
        identity(timestamp=str(int(time.time()) - 3 * 86400)),
        {**identity(), "customer_id": "c-18"},
        {"customer_id": "c-17"},
    ):
        refused = stranger.client.post("/embed/demo/identify", json=bad, headers={"X-Chat-Session": ""})
        assert refused.status_code in (403, 422) and "X-Chat-Session" not in refused.headers
    assert "asked on my laptop" not in stranger.conversation("1")
    with app.app_context():
        row = db.session.scalar(sa.select(ShopperRow).filter_by(external_id="c-17"))
        assert row.verified_at is not None and row.email == "kim@example.com" and row.email_consent_at is None


def test_an_answer_emails_resume_link_hands_over_the_session(app, demo):
    from chat import identity, links

    shopper = Shopper(app)
    shopper.send("1", "my question")
    shopper.post("/email", data={"customer_email": "ann@example.com", "email_consent": "yes"})  # links go by mail
    with app.app_context(), app.test_request_context():
        inquiry = db.session.get(ProductInquiry, only_inquiry_id(app))
        link = links.resume_link(inquiry)
    token = link.split("#productchat-resume=")[1]
    assert link.startswith("http://127.0.0.1:5000/products/1#")  # the fragment never reaches a server
    browser = Shopper(app)
    assert (
        browser.client.post("/embed/demo/resume", json={"token": "bad"}, headers={"X-Chat-Session": ""}).status_code
        == 403
    )
    browser._keep(browser.client.post("/embed/demo/resume", json={"token": token}, headers={"X-Chat-Session": ""}))
    assert "my question" in browser.conversation("1")
    del identity


def test_the_loader_stays_within_its_budget_and_is_cached_long(client, demo):
    import gzip

    loader = client.get("/widget.js")
    body = loader.get_data()
    assert loader.status_code == 200 and loader.mimetype == "text/javascript"
    # 6.5 KB since it speaks the shopper's language (and sits left in RTL); what goes over the wire stays 3 KB.
    assert len(body) <= 6.5 * 1024 and len(gzip.compress(body, 9)) <= 3 * 1024
    assert "max-age=86400" in loader.headers["Cache-Control"]
    version = loader.headers["ETag"].strip('"')
    zipped = client.get("/widget.js", headers={"Accept-Encoding": "gzip, br"})
    assert zipped.headers["Content-Encoding"] == "gzip" and len(zipped.get_data()) <= 3 * 1024
    assert f"?v={version}".encode() in body  # the iframe's URL changes with the loader
    assert client.get("/widget.js", headers={"If-None-Match": loader.headers["ETag"]}).status_code == 304
    # No dependencies, no inline styles a host page's CSP must allow: a constructed sheet in a shadow root.
    assert b"import" not in body and b"adoptedStyleSheets" in body and b"attachShadow" in body
    assert b".style=" not in body.replace(b".style.display", b"")


def test_customers_never_see_account_names_or_workflow_notes(app, demo):
    from chat.models import User
    from chat.services import inquiries

    with app.app_context():
        zed = User(email="zed.internal@shop.example", name="Zed Internal-Account")
        zed.set_password("zed-password-1")
        db.session.add(zed)
        db.session.commit()
        zed_id = zed.id
    shopper = Shopper(app)
    shopper.send("1", "Does it come in red?")
    with app.app_context():
        zed = db.session.get(User, zed_id)
        inquiry_id = only_inquiry_id(app)
        inquiries.respond(inquiry_id, zed, "Yes, in red and blue.")
        inquiries.set_priority(inquiry_id, zed, "high")
        inquiries.assign(inquiry_id, zed, zed_id)
        inquiries.set_status(inquiry_id, zed, "resolved")
    html = shopper.conversation("1")
    api = shopper.client.get("/api/products/1/messages", headers={"X-Chat-Session": shopper.token})
    poll = shopper.get("/products/1/messages?after=0").get_data(as_text=True)
    for body in (html, api.get_data(as_text=True), poll):
        for secret in (
            "Zed Internal-Account",
            "zed.internal@",
            "Priority set",
            "Assigned",
            "Taken by",
            "Marked in progress",
            "Marked resolved",
        ):
            assert secret not in body, (secret, body[:300])
        assert "Yes, in red and blue." in body and "Marked as answered" in body
    answer = next(m for m in api.get_json()["messages"] if m["sender_type"] == "admin" and m["message_type"] == "text")
    assert answer["sender_name"] == "Demo Shop" and answer["sender_id"] is None
    # With a public name set, customers see that instead of the shop's name.
    with app.app_context():
        db.session.get(User, zed_id).public_name = "Zoë from Support"
        db.session.commit()
    assert "Zoë from Support" in shopper.conversation("1")
