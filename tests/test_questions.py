"""Product Q&A and suggested answers: publishing from an inquiry, the public pages and
API, the widget's suggestions, and that nothing private ever leaks into them."""

import html
import json
import re
import uuid

import pytest
import sqlalchemy as sa

from chat.extensions import db
from chat.models import Product, PublishedQuestion, SuggestionView, User
from chat.services import admin_tokens, questions

from .chat_helpers import Shopper, first_product_id, make_inquiry


@pytest.fixture
def api(app, demo):
    """An anonymous client plus a bearer token for the demo admin."""
    with app.app_context():
        token = admin_tokens.create(db.session.scalar(sa.select(User)), "tests")
    return app.test_client(), {"Authorization": f"Bearer {token}"}


def external_id(app, product_id):
    with app.app_context():
        return db.session.get(Product, product_id).external_id


def publish(client, auth, inquiry_id, question, answer):
    response = client.post(
        f"/api/admin/inquiries/{inquiry_id}/publish", json={"question": question, "answer": answer}, headers=auth
    )
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


def json_ld(page):
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', page, re.S)
    return [json.loads(b) for b in blocks]


def suggestion_texts(shopper, external, text):
    page = shopper.get(f"/products/{external}/suggestions", query_string={"message_text": text})
    assert page.status_code == 200
    return [html.unescape(s) for s in re.findall(r"<summary[^>]*>(.*?)</summary>", page.get_data(as_text=True))]


def test_publish_edit_withdraw_follow_on_every_public_place(app, api):
    client, auth = api
    pid = first_product_id(app)
    inquiry_id = make_inquiry(app, pid, "Hi, is the backpack waterproof? I'm Jane from 12 Elm Street")
    entry = publish(
        client,
        auth,
        inquiry_id,
        "Is the backpack waterproof?",
        "It is water-resistant; a rain cover is in the bottom pocket.",
    )
    assert entry["id"] >= 1 and entry["inquiry_id"] == inquiry_id and entry["product_id"] == pid
    qid = entry["id"]

    # The product page lists it (with a count), without QAPage markup; its own page carries the QAPage.
    product_page = client.get(f"/products/{pid}").get_data(as_text=True)
    assert "Questions &amp; answers" in product_page and "(1)" in product_page
    assert "Is the backpack waterproof?" in product_page and "QAPage" not in product_page
    assert f"/products/{pid}/questions/{qid}" in product_page and "chat=open" in product_page
    own = client.get(f"/products/{pid}/questions/{qid}")
    assert own.status_code == 200
    [ld] = json_ld(own.get_data(as_text=True))
    assert ld["@type"] == "QAPage"
    question = ld["mainEntity"]
    assert (question["@type"], question["name"], question["answerCount"]) == ("Question", entry["question"], 1)
    assert question["acceptedAnswer"]["@type"] == "Answer"
    assert question["acceptedAnswer"]["text"] == entry["answer"]
    assert question["acceptedAnswer"]["dateCreated"].endswith("Z") and question["acceptedAnswer"]["author"]["name"]

    # Public API and suggestions.
    listed = client.get(f"/api/products/{pid}/questions").get_json()
    assert listed["count"] == 1 and [q["id"] for q in listed["questions"]] == [qid]
    found = client.get(f"/api/products/{pid}/suggestions", query_string={"q": "Will it stay dry in the rain"})
    assert [q["id"] for q in found.get_json()["questions"]] == [qid]

    # Edit: every place shows the new text.
    edited = client.put(
        f"/api/admin/questions/{qid}",
        headers=auth,
        json={"question": "Is the backpack waterproof in heavy rain?", "answer": "Use the rain cover."},
    )
    assert edited.status_code == 200 and edited.get_json()["answer"] == "Use the rain cover."
    assert "in heavy rain?" in client.get(f"/products/{pid}").get_data(as_text=True)
    [ld] = json_ld(client.get(f"/products/{pid}/questions/{qid}").get_data(as_text=True))
    assert ld["mainEntity"]["acceptedAnswer"]["text"] == "Use the rain cover."

    # Withdraw: gone from the product page, its page, the API and suggestions.
    assert client.delete(f"/api/admin/questions/{qid}", headers=auth).status_code == 204
    assert "in heavy rain?" not in client.get(f"/products/{pid}").get_data(as_text=True)
    assert client.get(f"/products/{pid}/questions/{qid}").status_code == 404
    assert client.get(f"/api/products/{pid}/questions").get_json() == {"count": 0, "questions": []}
    assert client.get(f"/api/products/{pid}/suggestions?q=waterproof").get_json() == {"questions": []}
    assert suggestion_texts(Shopper(app), external_id(app, pid), "waterproof") == []
    assert client.delete(f"/api/admin/questions/{qid}", headers=auth).status_code == 404
    assert (
        client.put(f"/api/admin/questions/{qid}", headers=auth, json={"question": "back?", "answer": "no"}).status_code
        == 404
    )


def test_private_chat_text_never_reaches_suggestions_or_the_public_api(app, api):
    client, auth = api
    pid = first_product_id(app)
    marker = "zqx" + uuid.uuid4().hex[:10]
    inquiry_id = make_inquiry(app, pid, f"Is the backpack waterproof? My code is {marker}")
    client.post(
        f"/api/admin/inquiries/{inquiry_id}/respond", json={"message_text": f"Yes, {marker} noted"}, headers=auth
    )
    publish(client, auth, inquiry_id, "Is the backpack waterproof?", "Yes, with the rain cover.")
    shopper = Shopper(app)
    external = external_id(app, pid)
    for text in (marker, f"waterproof {marker}", "waterproof"):
        api_body = client.get(f"/api/products/{pid}/suggestions", query_string={"q": text}).get_data(as_text=True)
        widget = shopper.get(f"/products/{external}/suggestions", query_string={"message_text": text})
        assert marker not in api_body and marker not in widget.get_data(as_text=True)
    assert marker not in client.get(f"/api/products/{pid}/questions").get_data(as_text=True)
    assert marker not in client.get(f"/products/{pid}").get_data(as_text=True)
    # A text only the private chat holds finds nothing at all.
    assert client.get(f"/api/products/{pid}/suggestions", query_string={"q": marker}).get_json() == {"questions": []}


def test_suggestions_match_any_word_of_a_sentence_for_that_product_only(app, api):
    client, auth = api
    pid = first_product_id(app)
    with app.app_context():
        other = db.session.scalars(sa.select(Product.id).order_by(Product.id)).all()[1]
    publish(client, auth, make_inquiry(app, pid, "q"), "Does it fit a 15 inch laptop?", "Yes, in the sleeve.")
    publish(client, auth, make_inquiry(app, pid, "q"), "How heavy is it?", "1.2 kg empty.")
    publish(client, auth, make_inquiry(app, other, "q"), "Does the laptop sleeve have padding?", "Yes.")
    shopper = Shopper(app)
    external = external_id(app, pid)
    assert suggestion_texts(shopper, external, "Will my laptop fi") == ["Does it fit a 15 inch laptop?"]
    assert suggestion_texts(shopper, external, "what is the weig") == []
    assert suggestion_texts(shopper, external, "is it heavy") == ["How heavy is it?"]
    # Common words alone suggest nothing; nor does empty input.
    assert suggestion_texts(shopper, external, "is it the") == []
    assert suggestion_texts(shopper, external, "") == []


def test_opening_a_suggestion_is_recorded_and_shown_on_the_shoppers_inquiry(app, api, admin):
    client, auth = api
    panel, csrf, _ = admin
    pid = first_product_id(app)
    external = external_id(app, pid)
    entry = publish(client, auth, make_inquiry(app, pid, "q"), "Is the backpack waterproof?", "With the cover.")
    shopper = Shopper(app)  # a fresh shopper: no session yet
    page = shopper.get(f"/products/{external}/suggestions", query_string={"message_text": "waterproof?"})
    post_url = re.search(r'hx-post="([^"]+/open)"', page.get_data(as_text=True)).group(1)
    opened = shopper.client.post(post_url, headers=shopper.headers())
    assert opened.status_code == 204 and opened.headers.get("X-Chat-Session")
    shopper._keep(opened)
    shopper.send(external, "Thanks, and is the cover included?")
    with app.app_context():
        view = db.session.scalar(sa.select(SuggestionView))
        assert view.question_id == entry["id"] and view.product_id == pid
        inquiry_id = db.session.scalar(
            sa.text("select id from product_inquiries where session_id = :s"), {"s": view.session_id}
        )
    inquiry_page = panel.get(f"/admin/inquiries/{inquiry_id}").get_data(as_text=True)
    opened_section = inquiry_page.split("Suggested answers the shopper opened", 1)[1]
    assert "Is the backpack waterproof?" in opened_section.split("</ul>", 1)[0]
    # The inquiry it was published from is another shopper's: nothing opened there.
    first = panel.get(f"/admin/inquiries/{entry['inquiry_id']}").get_data(as_text=True)
    assert "Suggested answers the shopper opened" not in first
    # Another product's question cannot be "opened" here, nor a withdrawn one.
    assert shopper.post(f"/products/{external}/suggestions/999999/open").status_code == 404
    client.delete(f"/api/admin/questions/{entry['id']}", headers=auth)
    assert shopper.client.post(post_url, headers=shopper.headers()).status_code == 404


def test_admin_publishes_from_the_inquiry_page_prefilled_then_edits_and_withdraws(app, admin):
    panel, csrf, _ = admin
    pid = first_product_id(app)
    inquiry_id = make_inquiry(app, pid, "Does the <b>hip belt</b> come off?")
    panel.post(f"/admin/inquiries/{inquiry_id}/messages", data={"message_text": "Yes, it unclips.", "csrf_token": csrf})
    page = panel.get(f"/admin/inquiries/{inquiry_id}").get_data(as_text=True)
    assert "Publish as Q&amp;A" in page.split('id="qa-card"', 1)[1]
    # The conversation's text is not on the page twice: the prefilled form loads when opened.
    assert page.count("Yes, it unclips.") == 1
    form = panel.get(f"/admin/inquiries/{inquiry_id}/questions/new", headers={"HX-Request": "true"}).get_data(
        as_text=True
    )
    assert "Does the &lt;b&gt;hip belt&lt;/b&gt; come off?</textarea>" in form
    assert "Yes, it unclips.</textarea>" in form
    # Without the CSRF token nothing is published.
    assert (
        panel.post(f"/admin/inquiries/{inquiry_id}/questions", data={"question": "x?", "answer": "y"}).status_code
        == 400
    )
    # A plain form post redirects back; HTMX gets the card.
    done = panel.post(
        f"/admin/inquiries/{inquiry_id}/questions",
        data={"question": "Does the hip belt come off?", "answer": "Yes, it unclips.", "csrf_token": csrf},
    )
    assert done.status_code == 302 and done.headers["Location"].endswith(f"/admin/inquiries/{inquiry_id}#qa-card")
    with app.app_context():
        qid = db.session.scalar(sa.select(PublishedQuestion.id))
    card = panel.post(
        f"/admin/questions/{qid}",
        headers={"HX-Request": "true"},
        data={"question": "Can the hip belt be removed?", "answer": "Yes, it unclips.", "csrf_token": csrf},
    ).get_data(as_text=True)
    assert "Published from this inquiry" in card and "Can the hip belt be removed?" in card
    assert "Can the hip belt be removed?" in panel.get(f"/products/{pid}").get_data(as_text=True)
    bad = panel.post(
        f"/admin/inquiries/{inquiry_id}/questions",
        headers={"HX-Request": "true"},
        data={"question": "  ", "answer": "kept text", "csrf_token": csrf},
    )
    assert bad.status_code == 422 and "kept text</textarea>" in bad.get_data(as_text=True)
    panel.post(f"/admin/questions/{qid}/withdraw", data={"csrf_token": csrf})
    assert "hip belt" not in panel.get(f"/products/{pid}").get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(PublishedQuestion.id))) == 1  # kept, withdrawn


@pytest.mark.parametrize(
    "body, status, fields",
    [
        ({}, 422, {"question"}),
        ({"question": "ok?"}, 422, {"answer"}),
        ({"question": "", "answer": " "}, 422, {"question", "answer"}),
        ({"question": 5, "answer": ["x"]}, 422, {"question", "answer"}),
        ({"question": "x" * 1001, "answer": "fine"}, 422, {"question"}),
        ({"question": "nul\x00?", "answer": "fine"}, 422, {"question"}),
        ({"question": "fine?", "answer": "\ud800"}, 422, {"answer"}),
    ],
)
def test_bad_publish_bodies_name_the_fields_and_publish_nothing(app, api, body, status, fields):
    client, auth = api
    inquiry_id = make_inquiry(app, first_product_id(app), "q")
    response = client.post(f"/api/admin/inquiries/{inquiry_id}/publish", json=body, headers=auth)
    assert response.status_code == status
    assert fields <= set(response.get_json()["fields"])
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(PublishedQuestion.id))) == 0


def test_hostile_requests_are_refused(app, api):
    client, auth = api
    pid = first_product_id(app)
    inquiry_id = make_inquiry(app, pid, "q")
    assert (
        client.post(f"/api/admin/inquiries/{inquiry_id}/publish", json={"question": "a?", "answer": "b"}).status_code
        == 401
    )
    assert (
        client.post(
            "/api/admin/inquiries/99999/publish", json={"question": "a?", "answer": "b"}, headers=auth
        ).status_code
        == 404
    )
    assert (
        client.post(
            f"/api/admin/inquiries/{inquiry_id}/publish", data="{", content_type="application/json", headers=auth
        ).status_code
        == 400
    )
    assert client.get("/api/products/99999/questions").status_code == 404
    assert client.get(f"/api/products/{pid}/suggestions?q=%FF").status_code == 400
    # FTS syntax and markup in the query are plain words.
    for q in ('"unbalanced', "NEAR(a b)", "*", "a OR b) --", "<script>x</script>", "x" * 5000):
        response = client.get(f"/api/products/{pid}/suggestions", query_string={"q": q})
        assert response.status_code == 200 and response.get_json() == {"questions": []}
    # Published text with markup is escaped in HTML and safe inside the JSON-LD script.
    entry = publish(client, auth, inquiry_id, "</script><script>alert(1)</script>?", "<img src=x onerror=alert(1)>")
    own = client.get(f"/products/{pid}/questions/{entry['id']}").get_data(as_text=True)
    assert "<script>alert(1)" not in own and "<img src=x" not in own
    assert json_ld(own)[0]["mainEntity"]["name"] == "</script><script>alert(1)</script>?"
    assert "<img src=x" not in client.get(f"/products/{pid}").get_data(as_text=True)
    assert client.get(f"/products/{pid + 1}/questions/{entry['id']}").status_code == 404


def test_service_lists_newest_first_with_a_count(app, demo):
    pid = first_product_id(app)
    ids = [make_inquiry(app, pid, f"q{i}") for i in range(3)]
    with app.app_context():
        admin = db.session.scalar(sa.select(User))
        published = [questions.publish(i, admin, f"Question {n}?", f"Answer {n}").id for n, i in enumerate(ids)]
        page = questions.for_product(pid)
        assert page.count == 3 and [e.id for e in page.items] == published[::-1]


def test_the_publish_form_is_prefilled_without_internal_notes(app, admin):
    panel, csrf, _ = admin
    pid = first_product_id(app)
    inquiry_id = make_inquiry(app, pid, "Can I get it by Friday?")
    marker = "note" + uuid.uuid4().hex[:8]
    with app.app_context():
        from chat.services import conversations

        conversations.add_admin_message(
            inquiry_id, f"Private: customer is VIP {marker}", message_type="note", visibility="internal"
        )
        conversations.add_admin_message(inquiry_id, "Yes, order by Wednesday noon.")
    card = panel.get(f"/admin/inquiries/{inquiry_id}/questions/new").get_data(as_text=True)
    assert "Can I get it by Friday?</textarea>" in card and "Yes, order by Wednesday noon.</textarea>" in card
    assert marker not in card


def test_erasing_a_customer_erases_the_suggestions_they_opened_and_keeps_the_published_entry(app, api, admin):
    client, auth = api
    panel, csrf, _ = admin
    pid = first_product_id(app)
    external = external_id(app, pid)
    published_from = make_inquiry(app, pid, "Is it waterproof?")
    entry = publish(client, auth, published_from, "Is it waterproof?", "Yes.")
    shopper = Shopper(app)
    shopper.post(f"/products/{external}/suggestions/{entry['id']}/open")
    shopper.send(external, "Thanks")
    with app.app_context():
        session_id = db.session.scalar(sa.select(SuggestionView.session_id))
        inquiry_id = db.session.scalar(
            sa.text("select id from product_inquiries where session_id = :s"), {"s": session_id}
        )
    assert client.post("/api/admin/customers/erase", json={"inquiry_id": inquiry_id}, headers=auth).status_code == 200
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count(SuggestionView.id))) == 0
    # Erasing the customer the entry was published from leaves the public entry (it is the shop's text).
    assert (
        client.post("/api/admin/customers/erase", json={"inquiry_id": published_from}, headers=auth).status_code == 200
    )
    assert client.get(f"/api/products/{pid}/questions").get_json()["count"] == 1
