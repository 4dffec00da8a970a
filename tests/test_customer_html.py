"""The customer's chat as HTMX fragments and pages."""
import re
import uuid

from chat.extensions import db
from chat.models import ProductInquiry, ProductMessage
from chat.services import conversations

from .chat_helpers import (
    count,
    csrf_token,
    first_product_id,
    htmx_headers,
    only_inquiry_id,
    send_html,
)


def test_panel_is_a_fragment_for_htmx_and_a_page_otherwise(client, app, demo):
    pid = first_product_id(app)
    fragment = client.get(f"/products/{pid}/chat", headers={"HX-Request": "true"})
    page = client.get(f"/products/{pid}/chat")
    assert fragment.status_code == page.status_code == 200
    assert "<html" not in fragment.get_data(as_text=True)
    assert "<html" in page.get_data(as_text=True)
    for response in (fragment, page):
        assert "HX-Request" in response.headers["Vary"]
        body = response.get_data(as_text=True)
        assert "Trailhead 35L Hiking Backpack" in body and "129.00 EUR" in body
        assert "Ask us anything about the Trailhead 35L Hiking Backpack" in body


def test_opening_the_panel_creates_no_inquiry(client, app, demo):
    pid = first_product_id(app)
    client.get(f"/products/{pid}/chat", headers={"HX-Request": "true"})
    assert count(app, ProductInquiry) == 0


def test_send_returns_the_stored_message_escaped_and_history_survives_a_return(client, app, demo):
    pid = first_product_id(app)
    token = csrf_token(client, pid)
    response = send_html(client, pid, "<script>alert(1)</script>\nsecond line", token)
    assert response.status_code == 201
    body = response.get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;\nsecond line" in body
    assert "<script>alert(1)" not in body
    assert "mark-sent" in body
    cookie = client.get_cookie("chat_session")
    assert cookie is not None and cookie.http_only
    # Days later, same browser: the panel shows the history.
    panel = client.get(f"/products/{pid}/chat", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in panel
    assert 'class="msg own' in panel


def test_session_id_has_at_least_128_random_bits_and_is_signed(client, app, demo):
    pid = first_product_id(app)
    send_html(client, pid, "hello", csrf_token(client, pid))
    with app.app_context():
        session_id = db.session.scalar(db.select(ProductInquiry.session_id))
    assert len(session_id) >= 22  # token_urlsafe(24): 192 bits
    assert client.get_cookie("chat_session").value != session_id


def test_a_second_session_cannot_see_or_touch_the_first_ones_inquiry(app, demo):
    pid = first_product_id(app)
    alice, mallory = app.test_client(), app.test_client()
    send_html(alice, pid, "alice's private question", csrf_token(alice, pid))
    panel = mallory.get(f"/products/{pid}/chat", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "alice's private question" not in panel
    api = mallory.get(f"/api/products/{pid}/messages").get_json()
    assert api["inquiry"] is None and api["messages"] == []
    token = csrf_token(mallory, pid)
    assert mallory.put(f"/api/products/{pid}/messages/read", headers={"X-CSRFToken": token}).status_code == 404
    email = mallory.post(f"/products/{pid}/chat/email", headers=htmx_headers(token),
                         data={"customer_email": "m@evil.example", "email_consent": "yes"})
    assert email.status_code == 404
    # A forged cookie is no session at all.
    mallory.set_cookie("chat_session", "forged.value")
    assert "alice's private question" not in mallory.get(f"/products/{pid}/chat").get_data(as_text=True)
    # Mallory's own message goes into Mallory's own inquiry.
    send_html(mallory, pid, "mallory here", token)
    with app.app_context():
        inquiries = db.session.scalars(db.select(ProductInquiry)).all()
        assert len(inquiries) == 2
        texts = {i.session_id: [m.message_text for m in i.messages] for i in inquiries}
    assert sorted(texts.values()) == [["alice's private question"], ["mallory here"]]


def test_bad_input_shows_a_message_and_stores_nothing(client, app, demo):
    pid = first_product_id(app)
    token = csrf_token(client, pid)
    empty = send_html(client, pid, "  \n ", token)
    assert empty.status_code == 422 and "Please type a message." in empty.get_data(as_text=True)
    long = send_html(client, pid, "x" * 2001, token)
    assert long.status_code == 422 and "at most 2000 characters" in long.get_data(as_text=True)
    unknown = send_html(client, 999999, "hi", token)
    assert unknown.status_code == 404
    bad_id = send_html(client, pid, "hi", token, client_id="123")
    assert bad_id.status_code == 422
    assert count(app, ProductMessage) == 0 and count(app, ProductInquiry) == 0


def test_send_without_csrf_token_is_refused(client, app, demo):
    pid = first_product_id(app)
    response = client.post(f"/products/{pid}/chat/messages", data={"message_text": "hi"}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert count(app, ProductMessage) == 0


def test_resend_with_the_same_id_answers_with_the_same_message(client, app, demo):
    pid = first_product_id(app)
    token = csrf_token(client, pid)
    client_id = str(uuid.uuid4())
    first = send_html(client, pid, "once", token, client_id)
    second = send_html(client, pid, "once", token, client_id)
    assert (first.status_code, second.status_code) == (201, 200)
    assert re.search(r'id="msg-(\d+)"', first.get_data(as_text=True)).group(1) == \
        re.search(r'id="msg-(\d+)"', second.get_data(as_text=True)).group(1)
    assert count(app, ProductMessage) == 1


def test_badge_counts_unread_answers_and_reading_clears_it(client, app, demo):
    pid = first_product_id(app)
    token = csrf_token(client, pid)
    send_html(client, pid, "is it in stock?", token)
    with app.app_context():
        conversations.add_admin_message(only_inquiry_id(app), "Yes, 14 left.")
        conversations.add_admin_message(only_inquiry_id(app), "Ships tomorrow.")
    page = client.get(f"/products/{pid}").get_data(as_text=True)
    assert re.search(r'class="chat-badge" id="chat-badge" aria-label="2 unread answers">2<', page)
    assert client.post(f"/products/{pid}/chat/read", headers=htmx_headers(token)).status_code == 204
    badge = client.get(f"/products/{pid}/chat/badge", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "hidden" in badge and ">0<" in badge
    page = client.get(f"/products/{pid}").get_data(as_text=True)
    assert 'id="chat-badge" hidden' in page


def test_messages_after_returns_only_newer_and_before_returns_older(client, app, demo):
    pid = first_product_id(app)
    token = csrf_token(client, pid)
    app.config["CHAT_PAGE_SIZE"] = 3
    ids = []
    for i in range(5):
        body = send_html(client, pid, f"m{i}", token).get_data(as_text=True)
        ids.append(int(re.search(r'id="msg-(\d+)"', body).group(1)))
    newer = client.get(f"/products/{pid}/chat/messages?after={ids[2]}", headers={"HX-Request": "true"})
    text = newer.get_data(as_text=True)
    assert re.findall(r'id="msg-(\d+)"', text) == [str(ids[3]), str(ids[4])]
    panel = client.get(f"/products/{pid}/chat", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert re.findall(r'id="msg-(\d+)"', panel) == [str(i) for i in ids[2:]]
    assert "Show earlier messages" in panel
    older = client.get(f"/products/{pid}/chat/messages?before={ids[2]}", headers={"HX-Request": "true"})
    assert re.findall(r'id="msg-(\d+)"', older.get_data(as_text=True)) == [str(ids[0]), str(ids[1])]
    assert client.get(f"/products/{pid}/chat/messages?after=abc", headers={"HX-Request": "true"}).status_code == 400


def test_email_form_needs_consent_and_keeps_what_was_typed(client, app, demo):
    pid = first_product_id(app)
    token = csrf_token(client, pid)
    send_html(client, pid, "question", token)
    panel = client.get(f"/products/{pid}/chat", headers={"HX-Request": "true"}).get_data(as_text=True)
    assert "My address is used for nothing else" in panel
    refused = client.post(f"/products/{pid}/chat/email", headers=htmx_headers(token),
                          data={"customer_email": "ann@example.com"})
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert "tick the box" in body and 'value="ann@example.com"' in body
    bad = client.post(f"/products/{pid}/chat/email", headers=htmx_headers(token),
                      data={"customer_email": "ann@", "email_consent": "yes"})
    assert bad.status_code == 422 and "valid email" in bad.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(ProductInquiry.customer_email)) is None
    saved = client.post(f"/products/{pid}/chat/email", headers=htmx_headers(token),
                        data={"customer_email": "ann@example.com", "email_consent": "yes"})
    assert saved.status_code == 200 and "ann@example.com" in saved.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(ProductInquiry.customer_email)) == "ann@example.com"


def test_plain_form_post_without_javascript_works(client, app, demo):
    pid = first_product_id(app)
    token = csrf_token(client, pid)
    response = client.post(f"/products/{pid}/chat/messages", data={"message_text": "no js here", "csrf_token": token})
    assert response.status_code == 303
    assert "no js here" in client.get(response.headers["Location"]).get_data(as_text=True)


def test_product_page_carries_the_widget(client, app, demo):
    pid = first_product_id(app)
    page = client.get(f"/products/{pid}").get_data(as_text=True)
    assert "Ask a question" in page and 'aria-controls="chat-panel"' in page
    assert "/static/vendor/htmx.min.js" in page and "/static/js/chat.js" in page


def test_polling_also_brings_marks_that_moved_on(client, app, demo):
    pid = first_product_id(app)
    token = csrf_token(client, pid)
    body = send_html(client, pid, "are you there?", token).get_data(as_text=True)
    mine = int(re.search(r'id="msg-(\d+)"', body).group(1))
    poll = f"/products/{pid}/chat/messages?after={mine}&marks={mine}.sent"
    assert client.get(poll, headers={"HX-Request": "true"}).status_code == 204
    with app.app_context():
        conversations.mark_read(only_inquiry_id(app), reader="admin")
    moved = client.get(poll, headers={"HX-Request": "true"})
    assert moved.status_code == 200
    assert f'id="mark-{mine}" data-state="read"' in moved.get_data(as_text=True)
    assert 'class="msg' not in moved.get_data(as_text=True)  # no message repeated
    caught_up = f"/products/{pid}/chat/messages?after={mine}&marks={mine}.read"
    assert client.get(caught_up, headers={"HX-Request": "true"}).status_code == 204
