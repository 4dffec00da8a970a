"""/api/openapi.json describes exactly the API the app serves: no more, no less."""

import re

import pytest

from chat import create_app
from chat.api.openapi import ERRORS
from config import TestingConfig

METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


@pytest.fixture(scope="module")
def plain_app():
    return create_app(TestingConfig)  # the document needs no database


@pytest.fixture(scope="module")
def doc(plain_app):
    response = plain_app.test_client().get("/api/openapi.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def served(app):
    """(OpenAPI path, method) of every route under /api/, ``<conv:name>`` written ``{name}``."""
    routes = set()
    for rule in app.url_map.iter_rules():
        # <rest:...> routes answer malformed ids of a documented path (404): not operations of their own.
        if rule.rule.startswith("/api/") and "<rest:" not in rule.rule:
            path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
            routes |= {(path, method.lower()) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return routes


def documented(doc):
    return {(path, method) for path, item in doc["paths"].items() for method in item if method in METHODS}


def test_every_api_route_is_documented_and_every_documented_operation_is_served(plain_app, doc):
    assert len(served(plain_app)) >= 10
    assert sorted(served(plain_app) - documented(doc)) == [], "served but not in chat/api/openapi.py"
    assert sorted(documented(doc) - served(plain_app)) == [], "in chat/api/openapi.py but not served"


def test_a_new_undocumented_route_is_noticed():
    app = create_app(TestingConfig)
    app.add_url_rule("/api/probe/<external:external_id>", "probe", lambda external_id: "", methods=["PUT"])
    assert served(app) - documented(app.test_client().get("/api/openapi.json").get_json()) == {
        ("/api/probe/{external_id}", "put")
    }


def test_path_parameters_match_the_path(doc):
    for path, item in doc["paths"].items():
        names = set(re.findall(r"{(\w+)}", path))
        for method, operation in item.items():
            declared = {p["name"] for p in operation["parameters"] if p["in"] == "path"}
            assert declared == names, f"{method} {path}"
            assert all(p["required"] for p in operation["parameters"] if p["in"] == "path")


def test_every_operation_lists_its_errors_and_credentials(doc):
    schemes = set(doc["components"]["securitySchemes"])
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            statuses = {int(status) for status in operation["responses"]}
            assert 503 in statuses, f"{method} {path}: a database outage"
            assert ("requestBody" in operation) == (413 in statuses), f"{method} {path}: 413 goes with a body"
            assert any(200 <= status < 300 for status in statuses)
            assert statuses - set(range(200, 300)) <= set(ERRORS)
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
            for requirement in operation["security"]:
                assert set(requirement) <= schemes
            if path.startswith("/api/admin/"):
                assert 401 in statuses and {} not in operation["security"], f"{method} {path} is for admins only"


def test_admin_operations_list_the_403_and_404_their_access_rule_can_answer(doc):
    # An agent may read inquiries but not webhooks (403), and an inquiry of another site is a 404.
    listing = doc["paths"]["/api/admin/inquiries"]["get"]["responses"]
    assert "403" not in listing
    webhooks = doc["paths"]["/api/admin/webhooks"]["get"]["responses"]
    assert "403" in webhooks
    one = doc["paths"]["/api/admin/inquiries/{inquiry_id}"]["get"]["responses"]
    assert "404" in one and "403" not in one
    erase = doc["paths"]["/api/admin/customers/erase"]["post"]["responses"]
    assert {"403", "404"} <= set(erase)


def test_every_reference_resolves(doc):
    def refs(node):
        if isinstance(node, dict):
            if "$ref" in node:
                yield node["$ref"]
            for value in node.values():
                yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    found = set(refs(doc))
    assert found
    for ref in found:
        target = doc
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]


def test_the_message_length_is_the_configured_one():
    class Short(TestingConfig):
        CHAT_MAX_MESSAGE_LENGTH = 140

    doc = create_app(Short).test_client().get("/api/openapi.json").get_json()
    assert doc["components"]["schemas"]["CustomerMessage"]["properties"]["message_text"]["maxLength"] == 140


def test_the_document_is_valid_openapi_3_1(plain_app):
    import schemathesis

    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", plain_app)
    schema.validate()  # against the OpenAPI 3.1 meta-schema; raises on the first error
    assert sorted(
        f"{result.ok().method.upper()} {result.ok().path}" for result in schema.get_all_operations()
    ) == sorted(f"{method.upper()} {path}" for path, method in served(plain_app) if path != "/api/openapi.json")
