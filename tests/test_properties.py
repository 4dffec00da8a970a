"""Property-based: whatever a client sends, the app never answers 5xx, and a refused request stores nothing.

Requests are drawn for every JSON endpoint and every HTML route with an id in
its path: ids (real, unicode digits, past 2^63, negative, text), query
strings (known parameters with hostile values, raw bytes), headers
(Last-Event-ID, X-Chat-Session, Authorization, HX-Request, Accept, ...) and
bodies (JSON of any shape, the known fields with any value, forms, raw bytes),
sent as an anonymous caller, a customer, a shopper with the page's cookie,
an admin with the login session, or an admin with a bearer token. The world
(a conversation, an admin) persists across examples, so earlier requests
shape later ones; every table is counted before and after each 4xx.
"""

import json
import re
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .backends import IN_CI
from .hostile import EXACTLY_2_63, PAST_2_63, UNICODE_DIGIT, build_world, id_rules, table_counts

# Bounded: the whole file takes about half a minute on SQLite and MariaDB. Fixed
# examples under CI (reproducible), fresh ones on each local run.
SETTINGS = settings(
    max_examples=200,
    deadline=None,
    database=None,
    derandomize=IN_CI,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Latin-1 text without control characters: what an HTTP header can carry.
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f"), max_size=40)
any_text = st.text(max_size=40)  # any code point but lone surrogates (those come as JSON escapes below)


def printable_ascii(value):
    return value.isascii() and value.isprintable()


odd_ids = st.sampled_from(
    [
        "0",
        "-1",
        "+1",
        " 1",
        "1 ",
        "01",
        "1.0",
        "1e3",
        "0x10",
        "",
        UNICODE_DIGIT,
        "\u0661\u0662",
        "\uff11",
        EXACTLY_2_63,
        PAST_2_63,
        str(2**63 - 1),
        "null",
        "true",
    ]
)
digit_strings = st.text(st.characters(categories=["Nd", "No"]), min_size=1, max_size=25)


def id_values(world):
    real = st.sampled_from([str(world.product_id), str(world.inquiry_id), str(world.admin_id)])
    return st.one_of(real, odd_ids, digit_strings, st.integers(-5, 2**70).map(str), any_text)


# Values a real client sends, so that requests also get past the first check.
PLAUSIBLE = [
    "0",
    "1",
    "2",
    "3",
    "pending",
    "in_progress",
    "resolved",
    "closed",
    "all",
    "waiting",
    "low",
    "high",
    "mine",
    "unassigned",
    "everyone",
    "true",
    "false",
    "1.sent",
    "1.read,2.delivered",
    "open",
    "30",
    "000000000000000000001",
]
QUERY_NAMES = [
    "after",
    "before",
    "limit",
    "marks",
    "product",
    "product_id",
    "assignee",
    "inquiry",
    "status",
    "priority",
    "q",
    "waiting",
    "chat",
]
HEADER_NAMES = [
    "Last-Event-ID",
    "X-Chat-Session",
    "Authorization",
    "HX-Request",
    "Accept",
    "X-CSRFToken",
    "Content-Type",
    "Transfer-Encoding",
]
HEADER_VALUES = ["true", "false", "application/json", "text/html", "*/*", "Bearer ", "Bearer pc_x", "0", "1"]
BODY_FIELDS = [
    "message_text",
    "sender_type",
    "client_message_id",
    "customer_email",
    "email_consent",
    "session_id",
    "message_ids",
    "status",
    "priority",
    "admin_id",
    "csrf_token",
]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | any_text | odd_ids,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(any_text, children, max_size=4),
    max_leaves=12,
)
# JSON escapes of lone surrogates and NUL, which Python's json.dumps never writes.
escapes = st.sampled_from(['"\\ud800"', '"a\\udfffb"', '"nul \\u0000"', '"\\ud83d"'])


def plausible_fields(world):
    """Bodies close to what the app expects, with now and then a hostile value in a field."""
    return st.fixed_dictionaries(
        {
            "message_text": st.sampled_from(["Is it waterproof?"] * 3 + ["  ", "x" * 2001, "a\r\nb"]) | any_text,
        },
        optional={
            "sender_type": st.sampled_from(["customer"] * 4 + ["admin", "robot"]),
            "client_message_id": st.uuids().map(str) | any_text,
            "customer_email": st.sampled_from(["cy@example.com", "not-an-email"]) | any_text,
            "email_consent": st.booleans() | st.sampled_from(["yes", 1]),
            "session_id": st.sampled_from([world.customer_session["X-Chat-Session"], "forged"]),
            "message_ids": st.lists(st.integers(-1, 60) | id_values(world), max_size=4),
            "status": st.sampled_from(["pending", "in_progress", "resolved", "closed", "done", ""]),
            "priority": st.sampled_from(["low", "medium", "high", "urgent"]),
            "admin_id": st.sampled_from([world.admin_id, None, 0, 424242, str(world.admin_id)]) | id_values(world),
        },
    )


@st.composite
def json_bodies(draw, world):
    kind = draw(st.sampled_from(["plausible", "plausible", "fields", "any", "escape", "deep", "raw"]))
    if kind == "plausible":
        return json.dumps(draw(plausible_fields(world))).encode()
    if kind == "fields":
        values = st.one_of(
            json_values,
            id_values(world),
            st.integers(-(2**70), 2**70),
            st.lists(st.integers(-(2**70), 2**70) | id_values(world), max_size=4),
        )
        return json.dumps(draw(st.dictionaries(st.sampled_from(BODY_FIELDS), values, max_size=5))).encode()
    if kind == "any":
        return json.dumps(draw(json_values)).encode()
    if kind == "escape":
        field = draw(st.sampled_from(["message_text", "customer_email", "status", "session_id"]))
        return f'{{"{field}": {draw(escapes)}, "email_consent": true}}'.encode()
    if kind == "deep":
        depth = draw(st.integers(30, 40000))
        return ("[" * depth + "]" * depth).encode()
    return draw(st.binary(max_size=200))


@st.composite
def form_bodies(draw, world):
    kind = draw(st.sampled_from(["plausible", "plausible", "fields", "raw"]))
    if kind == "raw":
        return draw(st.binary(max_size=200))
    if kind == "plausible":
        fields = {
            name: "yes" if value is True else "" if value in (False, None) else str(value)
            for name, value in draw(plausible_fields(world)).items()
            if name != "message_ids"
        }
    else:
        fields = draw(st.dictionaries(st.sampled_from(BODY_FIELDS), st.one_of(any_text, id_values(world)), max_size=4))
    body = urlencode(fields).encode()
    if draw(st.booleans()):
        body += b"&" + draw(
            st.sampled_from([b"message_text=%FF", b"customer_email=%ED%A0%80", b"x=%C3", b"message_text=%00"])
        )
    return body


@st.composite
def requests(draw, world, rules):
    method, template = draw(st.sampled_from(rules))
    ids = id_values(world)
    path = re.sub(
        r"<(?:(\w+):)?(\w+)>", lambda m: quote(draw(ids) if m.group(1) == "id" else draw(any_text), safe=""), template
    )
    if draw(st.integers(0, 3)):
        # Mostly the caller's own product and inquiry, so the views get past their 404s.
        path = re.sub(r"^(/api)?/products/[^/]+", rf"\1/products/{world.product_id}", path)
        path = re.sub(r"^(/api)?/admin/inquiries/[^/]+", rf"\1/admin/inquiries/{world.inquiry_id}", path)
        path = re.sub(r"^/embed/[^/]+/products/[^/]+", f"/embed/demo/products/{world.product_id}", path)
        path = re.sub(r"^/embed/[^/]+/", "/embed/demo/", path)
    params = draw(
        st.dictionaries(st.sampled_from(QUERY_NAMES), st.sampled_from(PLAUSIBLE) | ids | any_text, max_size=3)
    )
    environ = {}
    if draw(st.integers(0, 4)) == 0:  # raw bytes, as a client may send them
        environ["QUERY_STRING"] = draw(st.binary(max_size=40)).decode("latin-1")
    elif params:
        path += "?" + urlencode(params)
    headers = draw(
        st.dictionaries(
            st.sampled_from(HEADER_NAMES),
            st.sampled_from(HEADER_VALUES) | header_text | ids.filter(printable_ascii),
            max_size=3,
        )
    )
    headers.pop("Transfer-Encoding", None)  # the test client cannot send it (tests/test_chunked_body.py does)
    body = content_type = None
    if method in ("POST", "PUT"):
        types = [
            "application/json",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=b",
            "text/plain",
            None,
        ]
        content_type = draw(st.sampled_from(types + ["application/json"] * 6 if path.startswith("/api/") else types))
        if content_type == "application/json":
            body = draw(json_bodies(world))
        elif content_type and content_type.startswith("multipart"):
            fields = draw(st.dictionaries(st.sampled_from(BODY_FIELDS), st.binary(max_size=30), max_size=3))
            body = (
                b"".join(
                    b'--b\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (name.encode(), value)
                    for name, value in fields.items()
                )
                + b"--b--\r\n"
            )
        else:
            body = draw(form_bodies(world))
    # Mostly the caller each route is made for (past CSRF and login), sometimes anyone.
    natural = (
        "bearer"
        if template.startswith("/api/admin")
        else "customer"
        if template.startswith("/api/")
        else "admin"
        if template.startswith("/admin")
        else "shopper"
    )
    who = draw(st.sampled_from([natural] * 5 + ["anonymous", "customer", "shopper", "admin", "bearer"]))
    return method, path, environ, headers, body, content_type, who


def send(world, app, request):
    method, path, environ, headers, body, content_type, who = request
    headers = dict(headers)
    client = app.test_client(use_cookies=False)
    if who == "customer":
        headers.setdefault("X-Chat-Session", world.customer_session["X-Chat-Session"])
    elif who == "shopper":  # the widget's iframe: the header session, HTMX
        client = world.shopper
        headers.setdefault("X-Chat-Session", world.customer_session["X-Chat-Session"])
        headers.setdefault("HX-Request", "true")
    elif who == "admin":
        client = world.admin
        headers.setdefault("X-CSRFToken", world.admin_csrf)
    elif who == "bearer":
        headers.setdefault("Authorization", world.bearer["Authorization"])
    if content_type:
        headers.pop("Content-Type", None)
    return client.open(
        path, method=method, headers=headers, data=body, content_type=content_type, environ_overrides=environ
    )


def check(app, world, request):
    before = table_counts(app)
    response = send(world, app, request)
    status, streaming = response.status_code, response.mimetype == "text/event-stream"
    response.close()  # an SSE stream is never read: it would not end
    assert status < 500, request
    if 400 <= status < 500:
        assert table_counts(app) == before, (status, request)
    return status, streaming


@pytest.fixture
def world(app, demo):
    return build_world(app, demo)


def json_rules(app):
    return [(m, r) for m, r in id_rules(app) if r.startswith("/api/")] + [("GET", "/api/admin/inquiries")]


def html_rules(app):
    return [(m, r) for m, r in id_rules(app) if not r.startswith("/api/")]


def test_json_endpoints_never_fail_and_refusals_store_nothing(app, world):
    rules = json_rules(app)
    assert len(rules) == 27  # every JSON endpoint but the document itself

    @SETTINGS
    @given(request=requests(world, rules))
    def run(request):
        check(app, world, request)

    run()


def test_html_routes_with_ids_never_fail_and_refusals_store_nothing(app, world):
    assert len(html_rules(app)) >= 15

    @SETTINGS
    @given(request=requests(world, html_rules(app)))
    def run(request):
        check(app, world, request)

    run()
