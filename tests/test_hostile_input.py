"""Hostile input on every id-taking route, HTML and JSON: a clear 4xx, never a 5xx, nothing stored.

Each case here answered 500 (or stored something wrong) before the input
module (chat/inputs.py) and the strict id, text and body rules.
"""

import json
from urllib.parse import quote

import pytest

from .hostile import (
    EXACTLY_2_63,
    PAST_2_63,
    UNICODE_DIGIT,
    build_world,
    fill_path,
    id_rules,
    names_field,
    table_counts,
)


@pytest.fixture
def world(app, demo):
    return build_world(app, demo)


def send(world, client, method, url, **kwargs):
    return getattr(getattr(world, client), method.lower())(url, **kwargs)


# -- ids in paths: 404 ---------------------------------------------------------


def test_bad_ids_in_any_path_are_404(app, world):
    rules = list(id_rules(app))
    assert len(rules) >= 20  # customer, admin and API routes
    before = table_counts(app)
    answers = {}
    for value in (quote(UNICODE_DIGIT), PAST_2_63, EXACTLY_2_63, "0"):
        for method, template in rules:
            url = fill_path(template, value)
            client = world.admin if "/admin" in template else world.shopper
            headers = world.admin_headers() if "/admin" in template else world.shopper_headers()
            if template.startswith("/api/admin"):
                headers = dict(world.bearer)
            answers[f"{method} {url}"] = client.open(url, method=method, headers=headers).status_code
    assert answers == {key: 404 for key in answers}
    assert table_counts(app) == before


# -- ids in query strings, headers and bodies: 400 naming the field ------------


def query_cases(world):
    """(client, path, parameter[, name in the error]) for every id-like query parameter."""
    pid, iid = world.product_id, world.inquiry_id
    return [
        ("shopper", f"/embed/demo/products/{pid}/messages", "after"),
        ("shopper", f"/embed/demo/products/{pid}/messages", "before"),
        ("shopper", f"/embed/demo/products/{pid}/messages", "since"),
        ("customer", "/embed/demo/stream", "after"),
        ("admin", f"/admin/inquiries/{iid}/messages", "after"),
        ("admin", f"/admin/inquiries/{iid}/messages", "before"),
        ("admin", "/admin", "product"),
        ("admin", "/admin", "assignee"),
        ("admin", "/admin/inquiries", "product"),
        ("admin", "/admin/stream", "inquiry"),
        ("admin", "/admin/stream", "product"),
        ("admin", "/admin/stream", "assignee"),
        ("admin", "/admin/stream", "after"),
        ("customer", f"/api/products/{pid}/messages", "after"),
        ("customer", f"/api/products/{pid}/messages", "before"),
        ("customer", f"/api/products/{pid}/messages", "limit"),
        ("bearer", "/api/admin/inquiries", "product"),
        ("bearer", "/api/admin/inquiries", "product_id", "product"),  # product_id is product's alias
        ("bearer", "/api/admin/inquiries", "assignee"),
        ("bearer", "/api/admin/inquiries", "limit"),
        ("bearer", f"/api/admin/inquiries/{iid}", "after"),
        ("bearer", f"/api/admin/inquiries/{iid}", "before"),
    ]


def call(world, who, method, url, headers=None, **kwargs):
    headers = dict(headers or {})
    if who == "bearer":
        client, headers = world.admin.application.test_client(), {**world.bearer, **headers}
    elif who == "customer":
        client, headers = world.customer, {**world.customer_session, **headers}
    elif who == "admin":
        client, headers = world.admin, {**world.admin_headers(), **headers}
    else:
        client, headers = world.shopper, {**world.shopper_headers(), **headers}
    return client.open(url, method=method, headers=headers, **kwargs)


def test_bad_ids_in_query_strings_are_400_naming_the_parameter(app, world):
    before = table_counts(app)
    wrong = {}
    for value in (UNICODE_DIGIT, PAST_2_63, EXACTLY_2_63):
        for who, path, name, *named in query_cases(world):
            url = f"{path}?{name}={quote(value)}"
            response = call(world, who, "GET", url)
            if response.mimetype == "text/event-stream":
                wrong[url] = "a stream opened"  # never read: it would not end
            elif response.status_code != 400 or not names_field(response, (named or [name])[0]):
                wrong[url] = (response.status_code, response.get_data(as_text=True)[:200])
            response.close()
    assert wrong == {}
    assert table_counts(app) == before


def test_bad_polling_cursors_are_400(app, world):
    wrong = {}
    for value in (quote(UNICODE_DIGIT), "yesterday", "2026-13-40T00:00:00", "%00"):
        for who, path in (
            ("shopper", f"/embed/demo/products/{world.product_id}/messages"),
            ("admin", f"/admin/inquiries/{world.inquiry_id}/messages"),
        ):
            url = f"{path}?after=0&since={value}"
            response = call(world, who, "GET", url, headers={"HX-Request": "true"})
            if response.status_code != 400 or not names_field(response, "since"):
                wrong[url] = response.status_code
    assert wrong == {}


def test_the_admin_list_cursor_must_be_a_queue_key(app, world):
    for who, path in (("admin", "/admin"), ("bearer", "/api/admin/inquiries")):
        response = call(world, who, "GET", f"{path}?after={quote(UNICODE_DIGIT)}")
        assert response.status_code == 400 and names_field(response, "after")


def test_bad_last_event_id_is_400(app, world):
    wrong = {}
    for value in (UNICODE_DIGIT, EXACTLY_2_63, "x1"):
        for who, path in (("customer", "/embed/demo/stream"), ("admin", "/admin/stream")):
            response = call(world, who, "GET", path, headers={"Last-Event-ID": value})
            if response.mimetype == "text/event-stream":
                wrong[f"{path} {value!r}"] = "a stream opened"
            elif response.status_code != 400 or not names_field(response, "Last-Event-ID"):
                wrong[f"{path} {value!r}"] = response.status_code
            response.close()
    assert wrong == {}


def test_polling_from_an_empty_log_asks_after_0(app, world):
    """The widget's first poll (no message shown yet) sends after=0; it gets every message."""
    response = call(world, "shopper", "GET", f"/embed/demo/products/{world.product_id}/messages?after=0")
    assert response.status_code == 200 and "first question" in response.get_data(as_text=True)
    api = call(world, "customer", "GET", f"/api/products/{world.product_id}/messages?after=0")
    assert [m["message_text"] for m in api.get_json()["messages"]] == ["first question"]


BODY_IDS = [
    ("customer", "PUT", "/api/products/{pid}/messages/read", {"message_ids": [int(PAST_2_63)]}, "message_ids", 400),
    ("customer", "PUT", "/api/products/{pid}/messages/read", {"message_ids": [2**63]}, "message_ids", 400),
    ("customer", "PUT", "/api/products/{pid}/messages/read", {"message_ids": [UNICODE_DIGIT]}, "message_ids", 422),
    ("bearer", "PUT", "/api/admin/inquiries/{iid}/assignee", {"admin_id": UNICODE_DIGIT}, "admin_id", 422),
    ("bearer", "PUT", "/api/admin/inquiries/{iid}/assignee", {"admin_id": int(PAST_2_63)}, "admin_id", 422),
    ("bearer", "PUT", "/api/admin/inquiries/{iid}/assignee", {"admin_id": PAST_2_63}, "admin_id", 422),
    (
        "bearer",
        "POST",
        "/api/admin/inquiries/{iid}/respond",
        {"message_text": "hi", "admin_id": int(PAST_2_63)},
        "admin_id",
        422,
    ),
]


def test_bad_ids_in_json_bodies_name_the_field(app, world):
    before = table_counts(app)
    wrong = {}
    for who, method, path, body, field, status in BODY_IDS:
        url = path.format(pid=world.product_id, iid=world.inquiry_id)
        response = call(world, who, method, url, data=json.dumps(body), content_type="application/json")
        if response.status_code != status or not names_field(response, field):
            wrong[f"{url} {body}"] = (response.status_code, response.get_data(as_text=True)[:200])
    assert wrong == {}
    assert table_counts(app) == before


def test_bad_admin_ids_in_the_assignee_form_are_422(app, world):
    before = table_counts(app)
    for value in (UNICODE_DIGIT, PAST_2_63):
        response = call(
            world, "admin", "POST", f"/admin/inquiries/{world.inquiry_id}/assignee", data={"admin_id": value}
        )
        assert response.status_code == 422 and "assignee must be an admin id" in response.get_data(as_text=True)
    assert table_counts(app) == before


# -- text that is not text: 422 (JSON escapes, NUL) or 400 (bytes not UTF-8) ----

BAD_TEXT_BODIES = [
    ('{"message_text": "\\ud800"}', "message_text"),
    ('{"message_text": "half a pair \\udfff here"}', "message_text"),
    ('{"message_text": "nul \\u0000 inside"}', "message_text"),
    ('{"message_text": "hi", "customer_email": "a\\ud800@shop.example", "email_consent": true}', "customer_email"),
    ('{"message_text": "hi", "customer_email": "a\\u0000@shop.example", "email_consent": true}', "customer_email"),
]


def test_customer_json_with_lone_surrogates_or_nul_is_422_and_stores_nothing(app, world):
    before = table_counts(app)
    wrong = {}
    for raw, field in BAD_TEXT_BODIES:
        for who in ("customer", "shopper"):
            response = call(
                world,
                who,
                "POST",
                f"/api/products/{world.product_id}/messages",
                data=raw.encode(),
                content_type="application/json",
            )
            if response.status_code != 422 or not names_field(response, field):
                wrong[f"{who} {raw}"] = response.status_code
    assert wrong == {}
    assert table_counts(app) == before


def test_admin_answers_with_lone_surrogates_or_nul_are_422_and_store_nothing(app, world):
    before = table_counts(app)
    for text in ("\\ud800", "\\udbff\\u0041", "nul \\u0000"):
        response = call(
            world,
            "bearer",
            "POST",
            f"/api/admin/inquiries/{world.inquiry_id}/respond",
            data=f'{{"message_text": "{text}"}}'.encode(),
            content_type="application/json",
        )
        assert response.status_code == 422 and names_field(response, "message_text"), text
    assert table_counts(app) == before


def test_nul_in_html_forms_is_422_and_stores_nothing(app, world):
    before = table_counts(app)
    for who, path, field in (
        ("shopper", "/embed/demo/products/{pid}/messages", "message_text"),
        ("admin", "/admin/inquiries/{iid}/messages", "message_text"),
        ("shopper", "/embed/demo/email", "customer_email"),
    ):
        url = path.format(pid=world.product_id, iid=world.inquiry_id)
        body = f"{field}=a%00b%40shop.example&email_consent=yes"
        response = call(world, who, "POST", url, data=body, content_type="application/x-www-form-urlencoded")
        assert response.status_code == 422, url
    assert table_counts(app) == before


def test_invalid_utf8_in_urlencoded_forms_is_400_naming_the_field(app, world):
    before = table_counts(app)
    wrong = {}
    for body in (
        b"message_text=%FF",
        b"message_text=caf%C3",  # cut in the middle of a character
        b"message_text=%ED%A0%80",  # a surrogate, encoded: not UTF-8
        b"message_text=\xff\xfe",
    ):  # raw bytes
        for who, path in (
            ("shopper", f"/embed/demo/products/{world.product_id}/messages"),
            ("admin", f"/admin/inquiries/{world.inquiry_id}/messages"),
        ):
            response = call(world, who, "POST", path, data=body, content_type="application/x-www-form-urlencoded")
            if response.status_code != 400 or "message_text is not valid UTF-8" not in response.get_data(as_text=True):
                wrong[f"{path} {body!r}"] = (response.status_code, response.get_data(as_text=True)[:100])
    assert wrong == {}
    assert table_counts(app) == before


def test_invalid_utf8_in_multipart_forms_is_400(app, world):
    before = table_counts(app)
    body = b'--b\r\nContent-Disposition: form-data; name="message_text"\r\n\r\nbad \xff byte\r\n--b--\r\n'
    response = call(
        world,
        "shopper",
        "POST",
        f"/embed/demo/products/{world.product_id}/messages",
        data=body,
        content_type="multipart/form-data; boundary=b",
    )
    assert response.status_code == 400 and "message_text is not valid UTF-8" in response.get_data(as_text=True)
    good = body.replace(b"bad \xff byte", "caf\u00e9 \u00b2".encode())
    response = call(
        world,
        "shopper",
        "POST",
        f"/embed/demo/products/{world.product_id}/messages",
        data=good,
        content_type="multipart/form-data; boundary=b",
    )
    assert response.status_code == 201 and "caf\u00e9 \u00b2" in response.get_data(as_text=True)
    assert table_counts(app)["product_messages"] == before["product_messages"] + 1


def test_query_strings_that_are_not_utf8_are_400(app, world):
    wrong = {}
    for query in (b"after=\xff", b"q=%FF", b"x=\xc3"):
        for who, path in (
            ("shopper", f"/embed/demo/products/{world.product_id}/messages"),
            ("customer", f"/api/products/{world.product_id}/messages"),
            ("bearer", "/api/admin/inquiries"),
            ("admin", "/admin"),
        ):
            response = call(world, who, "GET", path, environ_overrides={"QUERY_STRING": query.decode("latin-1")})
            if response.status_code != 400 or "not valid UTF-8" not in response.get_data(as_text=True):
                wrong[f"{path}?{query!r}"] = response.status_code
    assert wrong == {}


def test_the_admin_search_still_finds_text_beyond_ascii(app, world):
    call(
        world,
        "bearer",
        "POST",
        f"/api/admin/inquiries/{world.inquiry_id}/respond",
        json={"message_text": "Größe ² passt"},
    )
    found = call(world, "bearer", "GET", f"/api/admin/inquiries?status=all&q={quote('Größe ²')}")
    assert [row["id"] for row in found.get_json()["inquiries"]] == [world.inquiry_id]


# -- deeply nested JSON: 400 -----------------------------------------------------

DEEP = [
    "[" * 30000 + "]" * 30000,
    '{"message_text": ' + "[" * 30000 + "]" * 30000 + "}",
    '{"message_text": "x", "a": ' + '{"b":' * 9000 + "1" + "}" * 9001,  # within MAX_CONTENT_LENGTH
]


def test_deeply_nested_json_is_400(app, world):
    before = table_counts(app)
    pid, iid = world.product_id, world.inquiry_id
    wrong = {}
    for number, raw in enumerate(DEEP):
        for who, method, url in (
            ("customer", "POST", f"/api/products/{pid}/messages"),
            ("customer", "PUT", f"/api/products/{pid}/messages/read"),
            ("bearer", "POST", f"/api/admin/inquiries/{iid}/respond"),
            ("bearer", "PUT", f"/api/admin/inquiries/{iid}/status"),
        ):
            response = call(world, who, method, url, data=raw, content_type="application/json")
            if response.status_code != 400 or "nests deeper" not in response.get_json()["error"]:
                wrong[f"{method} {url} body {number}"] = response.status_code
    assert wrong == {}
    assert table_counts(app) == before


def test_depth_counts_brackets_outside_strings_only():
    from chat.inputs import json_depth

    assert json_depth('{"a": [1, {"b": "[[[[{{"}]}') == 3
    assert json_depth(r'{"a": "\"[[[", "b": [[]]}') == 3
    assert json_depth('"unterminated [[[[') == 0
    assert json_depth('[["x\\\\"]]') == 2
    # A body of escaped quotes that never closes: one string, no brackets.
    assert json_depth('"' + '\\"[' * 3000) == 0


def test_a_multipart_field_without_a_readable_name_is_400_everywhere(app, world):
    # A bare CR in a part's name made Werkzeug name it None, and the CSRF check crashed on it (500).
    before = table_counts(app)
    body = b'--b\r\nContent-Disposition: form-data; name="\r"\r\n\r\nnull\r\n--b--\r\n'
    wrong = {}
    for who, path in (
        ("shopper", f"/embed/demo/products/{world.product_id}/messages"),
        ("admin", f"/api/admin/inquiries/{world.inquiry_id}/respond"),
        ("admin", f"/admin/inquiries/{world.inquiry_id}/messages"),
    ):
        response = call(world, who, "POST", path, data=body, content_type="multipart/form-data; boundary=b")
        if response.status_code != 400 or "needs a name" not in response.get_data(as_text=True):
            wrong[path] = (response.status_code, response.get_data(as_text=True)[:100])
    assert wrong == {}
    assert table_counts(app) == before
