"""The admin panel: login, authorization, the list, the inquiry view, changes."""

import re

import sqlalchemy as sa

from chat.extensions import db
from chat.models import ProductInquiry, ProductMessage, User
from chat.services import conversations, inquiries, shoppers

from .chat_helpers import Shopper, csrf_token, first_product_id, make_inquiry

ADMIN_GETS = [
    "/admin",
    "/admin/inquiries",
    "/admin/inquiries/1",
    "/admin/inquiries/1/messages",
    "/admin/stream",
    "/admin/tokens",
    "/api/admin/inquiries",
    "/api/admin/inquiries/1",
]
ADMIN_POSTS = [
    "/admin/inquiries/1/messages",
    "/admin/inquiries/1/status",
    "/admin/inquiries/1/priority",
    "/admin/inquiries/1/assignee",
    "/admin/inquiries/1/read",
    "/admin/inquiries/1/typing",
    "/admin/tokens",
    "/admin/logout",
]


def headers(token):
    return {"HX-Request": "true", "X-CSRFToken": token}


def test_every_admin_route_refuses_anonymous_callers(app, demo):
    make_inquiry(app, first_product_id(app), "hello")
    client = app.test_client()
    for path in ADMIN_GETS:
        response = client.get(path)
        assert response.status_code in (302, 401), path
        if path.startswith("/api/"):
            assert response.status_code == 401 and "error" in response.get_json()
        elif response.status_code == 302:
            assert "/admin/login" in response.headers["Location"]
    token = csrf_token(client, first_product_id(app))
    for path in ADMIN_POSTS:
        response = client.post(path, headers=headers(token), data={"status": "closed"})
        assert response.status_code in (302, 401), path
    for path in ["/api/admin/inquiries/1/status", "/api/admin/inquiries/1/priority"]:
        assert client.put(path, json={"status": "closed"}).status_code == 401
    assert client.post("/api/admin/inquiries/1/respond", json={"message_text": "x"}).status_code == 401
    with app.app_context():
        assert db.session.scalar(sa.select(ProductInquiry.status)) == "pending"
        assert db.session.scalar(sa.select(sa.func.count(ProductMessage.id))) == 1


def test_a_customer_session_cannot_reach_admin_data(app, demo):
    pid = first_product_id(app)
    shopper = Shopper(app)
    shopper.send(str(pid), "mine")
    customer = shopper.client
    assert customer.get("/api/admin/inquiries", headers={"X-Chat-Session": shopper.token}).status_code == 401
    assert customer.get("/admin/inquiries/1").status_code == 302
    assert customer.get("/api/admin/inquiries", headers={"Authorization": "Bearer not-a-token"}).status_code == 401


def test_login_rejects_a_wrong_password_and_htmx_gets_a_redirect_header(app, demo):
    client = app.test_client()
    page = client.get("/admin/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    bad = client.post("/admin/login", data={"email": demo["admin_email"], "password": "nope", "csrf_token": token})
    assert bad.status_code == 401 and "Wrong email or password" in bad.get_data(as_text=True)
    no_csrf = client.post("/admin/login", data={"email": demo["admin_email"], "password": demo["admin_password"]})
    assert no_csrf.status_code == 400
    hx = client.get("/admin/inquiries", headers={"HX-Request": "true"})
    assert hx.status_code == 401 and hx.headers["HX-Redirect"].startswith("/admin/login")


def test_state_changes_without_the_csrf_token_are_refused(app, admin):
    client, token, _ = admin
    inquiry_id = make_inquiry(app, first_product_id(app), "hello")
    assert (
        client.post(
            f"/admin/inquiries/{inquiry_id}/status", data={"status": "closed"}, headers={"HX-Request": "true"}
        ).status_code
        == 400
    )
    assert client.put(f"/api/admin/inquiries/{inquiry_id}/status", json={"status": "closed"}).status_code == 400
    with app.app_context():
        assert db.session.get(ProductInquiry, inquiry_id).status == "pending"
    ok = client.post(f"/admin/inquiries/{inquiry_id}/status", data={"status": "closed"}, headers=headers(token))
    assert ok.status_code == 200


def test_logout_ends_the_session(app, admin):
    client, token, _ = admin
    assert client.post("/admin/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/admin").status_code == 302


def system_texts(app, inquiry_id):
    with app.app_context():
        return [
            m.message_text
            for m in db.session.scalars(
                sa.select(ProductMessage)
                .where(ProductMessage.inquiry_id == inquiry_id, ProductMessage.message_type == "system")
                .order_by(ProductMessage.id)
            )
        ]


def test_status_priority_and_assignment_leave_system_messages(app, admin):
    client, token, ids = admin
    inquiry_id = make_inquiry(app, first_product_id(app), "hello")
    r = client.post(f"/admin/inquiries/{inquiry_id}/status", data={"status": "resolved"}, headers=headers(token))
    assert r.status_code == 200 and 'value="resolved" selected' in r.get_data(as_text=True)
    client.post(f"/admin/inquiries/{inquiry_id}/priority", data={"priority": "high"}, headers=headers(token))
    client.post(f"/admin/inquiries/{inquiry_id}/assignee", data={"admin_id": ids["bo"]}, headers=headers(token))
    client.post(f"/admin/inquiries/{inquiry_id}/assignee", data={"admin_id": ids["me"]}, headers=headers(token))
    client.post(f"/admin/inquiries/{inquiry_id}/assignee", data={"admin_id": ""}, headers=headers(token))
    # Setting the same value again changes nothing and says nothing.
    client.post(f"/admin/inquiries/{inquiry_id}/status", data={"status": "resolved"}, headers=headers(token))
    assert system_texts(app, inquiry_id) == [
        "Marked resolved by Demo Admin",
        "Marked as answered — write again any time.",
        "Priority set to high by Demo Admin",
        "Assigned to Bo by Demo Admin",
        "Taken by Demo Admin",
        "Unassigned by Demo Admin",
    ]
    bad = client.post(f"/admin/inquiries/{inquiry_id}/status", data={"status": "done"}, headers=headers(token))
    assert bad.status_code == 400 and "pending, in_progress, resolved, closed" in bad.get_data(as_text=True)
    # The customer sees one friendly line, never the shop's notes or account names.
    with app.app_context():
        customer_view = conversations.list_messages(inquiry_id, viewer="customer").messages
    assert [m.message_text for m in customer_view] == ["hello", "Marked as answered — write again any time."]


def test_answering_marks_in_progress_and_counts_follow_each_action(app, admin):
    client, token, _ = admin
    pid = first_product_id(app)
    session = "s" * 30
    inquiry_id = make_inquiry(app, pid, "first?", session)
    make_inquiry(app, pid, "second?", session)
    page = client.get("/admin?status=pending").get_data(as_text=True)
    row = re.search(rf'<tr id="inq-{inquiry_id}".*?</tr>', page, re.S).group(0)
    assert '>2 <span class="unread-pill"' in row and "2 new" in row and "second?" in row
    view = client.get(f"/admin/inquiries/{inquiry_id}")
    assert view.status_code == 200 and "first?" in view.get_data(as_text=True)
    assert client.post(f"/admin/inquiries/{inquiry_id}/read", headers=headers(token)).status_code == 204
    answer = client.post(
        f"/admin/inquiries/{inquiry_id}/messages", data={"message_text": "Yes <b>both</b>"}, headers=headers(token)
    )
    assert answer.status_code == 201 and "Yes &lt;b&gt;both&lt;/b&gt;" in answer.get_data(as_text=True)
    with app.app_context():
        inquiry = db.session.get(ProductInquiry, inquiry_id)
        assert inquiry.status == "in_progress" and inquiry.waiting_since is None
        row = inquiries.rows_for([inquiry])[0]
        assert (row.message_count, row.unread_count) == (4, 0)  # 2 questions, 1 answer, 1 system note
        assert conversations.unread_count(inquiry_id, reader="customer") == 1
    assert system_texts(app, inquiry_id) == ["Marked in progress by Demo Admin"]
    pending = client.get("/admin?status=pending").get_data(as_text=True)
    assert f'id="inq-{inquiry_id}"' not in pending
    in_progress = client.get("/admin?status=in_progress").get_data(as_text=True)
    assert f'id="inq-{inquiry_id}"' in in_progress and "You: Yes &lt;b&gt;both&lt;/b&gt;" in in_progress


def test_list_order_filters_and_search(app, admin):
    client, token, ids = admin
    pid = first_product_id(app)
    old = make_inquiry(app, pid, "waiting longest")
    new = make_inquiry(app, pid + 1, "waiting shortest")
    urgent = make_inquiry(app, pid + 2, "This is URGENT, it arrived broken")
    answered = make_inquiry(app, pid, "answered already")
    client.post(f"/admin/inquiries/{answered}/messages", data={"message_text": "done"}, headers=headers(token))
    client.post(f"/admin/inquiries/{answered}/status", data={"status": "pending"}, headers=headers(token))
    page = client.get("/admin?status=pending").get_data(as_text=True)
    order = [int(i) for i in re.findall(r'<tr id="inq-(\d+)"', page)]
    # Urgent first, then the longest waiting, answered ones last.
    assert order == [urgent, old, new, answered]
    assert 'class="priority priority-high">high<' in page

    def listed(query):
        if "status=" not in query:
            query = "status=pending&" + query
        return [int(i) for i in re.findall(r'<tr id="inq-(\d+)"', client.get("/admin?" + query).get_data(as_text=True))]

    # The panel opens on "Waiting for us": the answered one is not there.
    assert [int(i) for i in re.findall(r'<tr id="inq-(\d+)"', client.get("/admin").get_data(as_text=True))] == [
        urgent,
        old,
        new,
    ]
    assert listed("priority=high") == [urgent]
    assert listed(f"product={pid + 1}") == [new]
    assert listed("q=shortest") == [new]
    assert listed("q=urgent") == [urgent]
    assert listed("q=%25") == []  # LIKE wildcards are searched for literally
    client.post(f"/admin/inquiries/{old}/assignee", data={"admin_id": ids["me"]}, headers=headers(token))
    client.post(f"/admin/inquiries/{new}/assignee", data={"admin_id": ids["bo"]}, headers=headers(token))
    assert listed("assignee=mine") == [old]
    assert listed("assignee=unassigned") == [urgent, answered]
    assert listed(f"assignee={ids['bo']}") == [new]
    assert listed("status=all&q=answered") == [answered]
    assert client.get("/admin?status=bogus").status_code == 400


def test_keyset_pages_walk_the_whole_queue_once(app, admin):
    client, token, _ = admin
    pid = first_product_id(app)
    made = [make_inquiry(app, pid, f"q{i}") for i in range(7)]
    app.config["ADMIN_PAGE_SIZE"] = 3
    seen, url = [], "/admin?status=pending"
    for _ in range(5):
        body = client.get(url, headers={"HX-Request": "true"} if seen else {}).get_data(as_text=True)
        seen += [int(i) for i in re.findall(r'<tr id="inq-(\d+)"', body)]
        more = re.search(r'hx-get="([^"]*after=[^"]*)"', body)
        if not more:
            break
        url = more.group(1).replace("&amp;", "&")
    assert seen == made


def count_statements(app, fn):
    statements = []

    def before(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", before)
    try:
        fn()
    finally:
        sa.event.remove(engine, "before_cursor_execute", before)
    return len(statements)


def test_list_page_costs_the_same_number_of_statements_whatever_its_size(app, admin):
    client, token, ids = admin
    pid = first_product_id(app)
    for i in range(60):
        inquiry_id = make_inquiry(app, pid + (i % 5), f"question {i}")
        if i % 3 == 0:
            with app.app_context():
                conversations.add_admin_message(inquiry_id, "answer", admin_id=ids["bo"])
                inquiries.assign(inquiry_id, db.session.get(User, ids["me"]), ids["bo"])
    counts = {}
    for size in (5, 50):
        app.config["ADMIN_PAGE_SIZE"] = size
        counts[size] = count_statements(app, lambda: client.get("/admin?status=all"))
        body = client.get("/admin?status=all").get_data(as_text=True)
        assert len(re.findall(r'<tr id="inq-', body)) == size
    assert counts[5] == counts[50]


def test_inquiry_view_shows_product_customer_and_other_inquiries(app, admin):
    client, token, _ = admin
    pid = first_product_id(app)
    session = "x" * 30
    first = make_inquiry(app, pid, "about the backpack", session)
    second = make_inquiry(app, pid + 1, "about the coffee maker", session)
    with app.app_context():
        shoppers.set_email(session, "cy@example.com", True)
    page = client.get(f"/admin/inquiries/{first}").get_data(as_text=True)
    assert "Trailhead 35L Hiking Backpack" in page and "€129.00" in page and "In stock (14)" in page
    assert (
        f'href="http://127.0.0.1:5000/products/{pid}"' in page
    )  # the product's page (PUBLIC_BASE_URL), to open beside
    assert "cy@example.com" in page
    assert f'href="/admin/inquiries/{second}"' in page and "Aeropress Go Coffee Maker" in page
    assert client.get("/admin/inquiries/999999").status_code == 404


def test_api_tokens_page_creates_a_token_that_works(app, admin):
    client, token, _ = admin
    page = client.post("/admin/tokens", data={"name": "sync", "csrf_token": token}).get_data(as_text=True)
    api_token = re.search(r'<code id="new-token">([^<]+)</code>', page).group(1)
    anonymous = app.test_client()
    listed = anonymous.get("/api/admin/inquiries", headers={"Authorization": f"Bearer {api_token}"})
    assert listed.status_code == 200 and listed.get_json()["inquiries"] == []
    token_id = re.search(r"/admin/tokens/(\d+)/revoke", page).group(1)
    client.post(f"/admin/tokens/{token_id}/revoke", data={"csrf_token": token})
    assert anonymous.get("/api/admin/inquiries", headers={"Authorization": f"Bearer {api_token}"}).status_code == 401
