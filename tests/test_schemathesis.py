"""schemathesis against our own /api/openapi.json, on the WSGI app (SQLite, and MariaDB when it answers).

Every operation gets generated requests, valid and invalid, as a customer
with a conversation and as an admin with a bearer token. No answer may be a
5xx, or a status, content type, header or body the document does not list;
a rejected request (4xx) stores no row in any table.
"""

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from chat import create_app
from config import TestingConfig

from .backends import IN_CI
from .hostile import build_world, table_counts

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
EXAMPLES = 25  # per operation and database
INBOUND_SECRET = "schemathesis-inbound-secret"
# The inbound webhook's body is a raw mail: generated as bytes.
schemathesis.serializer.alias("message/rfc822", "application/octet-stream")


@pytest.fixture
def app_config():
    """Mail-in on, so the inbound webhook is called for real (not only its 404)."""
    return {"MAIL_REPLY_DOMAIN": "reply.shop.test", "INBOUND_EMAIL_SECRET": INBOUND_SECRET}


@pytest.fixture
def world(app, demo):
    return build_world(app, demo)


# The document comes from an app of its own (it needs no database); each test
# sends the generated requests to the fixture's app, on SQLite and MariaDB.
schema = schemathesis.openapi.from_wsgi("/api/openapi.json", create_app(TestingConfig))
schema.config.generation.update(max_examples=EXAMPLES)


@schema.parametrize()
@schema.given(real_ids=st.booleans(), caller=st.sampled_from(["own", "other"]))
@settings(
    max_examples=EXAMPLES, deadline=None, database=None, derandomize=IN_CI, suppress_health_check=list(HealthCheck)
)
def test_api_answers_as_documented(case, real_ids, caller, app, world):
    """caller "own": the bearer token (admins), the conversation's session header (customers)
    or the inbound secret (mail-in); "other": the admin's login cookie with its CSRF token, a
    customer with no session yet, or no secret."""
    # Schemathesis asks for gzip but reads WSGI answers as they come: plain bytes here
    # (tests/test_compression.py covers the compressed ones).
    headers, cookies = {"Accept-Encoding": "identity"}, {}
    if "catalog" in case.operation.tags:
        if caller == "own":
            headers["Authorization"] = f"Bearer {world.site_key}"
    elif "inbound" in case.operation.tags:
        if caller == "own":
            headers["Authorization"] = f"Bearer {INBOUND_SECRET}"
    elif "admin" in case.operation.tags or "privacy" in case.operation.tags:
        if caller == "own":
            headers.update(world.bearer)
        else:
            cookies["session"] = world.admin.get_cookie("session").value
            headers["X-CSRFToken"] = world.admin_csrf
    elif caller == "own":
        headers.update(world.customer_session)
    if real_ids:
        # Half the cases aim at the product and inquiry that exist.
        if "product_id" in (case.path_parameters or {}):
            case.path_parameters["product_id"] = world.product_id
        if "inquiry_id" in (case.path_parameters or {}):
            case.path_parameters["inquiry_id"] = world.inquiry_id
    before = table_counts(app)
    response = case.call(app=app, headers=headers, cookies=cookies)
    case.validate_response(response, checks=CHECKS, headers=headers)
    if 400 <= response.status_code < 500:
        assert table_counts(app) == before, (
            f"{case.method} {case.formatted_path} stored rows and answered {response.status_code}"
        )
