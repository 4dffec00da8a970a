"""The access matrix, generated from the URL map: every admin HTML route, JSON route and the
stream, for each role, with the object inside or outside the person's site.

People of site A only (an owner, a manager, an agent) call every route once with an
object of site A ("inside") and once with the same kind of object of site B ("outside").
Expected: outside a site, 404 (as if it did not exist); above the role, 403; allowed,
anything but 401/403/404-from-access/5xx (an empty form's 422 is allowed: the rule let it
through). A route with no rule in chat/services/access.py fails the test, so a new route
cannot ship unclassified.
"""

import html
import re

import pytest
import sqlalchemy as sa

from chat.extensions import db
from chat.models import CannedReply, Invitation, Product, PublishedQuestion, User, WebhookDelivery, utcnow
from chat.services import access, admin_tokens, sites, webhooks

from .chat_helpers import admin_login, make_inquiry

ROLES = ("owner", "manager", "agent")
PASSWORD = "matrix-password-1"
# Run last, in this order: they remove what other routes use, or end the session.
DESTRUCTIVE = ("rotate", "revoke", "erase", "deactivate", "withdraw", "delete")
LAST = ("admin.logout_everywhere", "admin.logout")
ACCESS_404 = set(access.NOT_FOUND.values()) | {"No such page."}


def admin_routes(app):
    rules = [
        r
        for r in app.url_map.iter_rules()
        if r.endpoint.startswith(("admin.", "api.admin.")) and r.endpoint not in access.PUBLIC
    ]

    def order(rule):
        words = [i + 1 for i, word in enumerate(DESTRUCTIVE) if word in rule.endpoint]
        destructive = max(words, default=len(DESTRUCTIVE) if "DELETE" in rule.methods else 0)
        return (
            rule.endpoint in LAST,
            LAST.index(rule.endpoint) if rule.endpoint in LAST else 0,
            destructive,
            rule.rule,
        )

    return sorted(rules, key=order)


def test_every_admin_route_has_a_rule(app):
    """A new admin route (HTML, JSON or stream) without a rule fails here."""
    missing = [r.endpoint for r in admin_routes(app) if r.endpoint not in access.RULES]
    assert missing == []
    # And no rule names a route that does not exist (a renamed route would lose its rule).
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    assert sorted(set(access.RULES) - endpoints) == []


def _world(app):
    """Two sites with an inquiry, a question, a webhook (with a delivery), a key, a canned
    reply, a target person and an invitation each; returns ids by site."""
    with app.app_context():
        a = sites.demo_site()
        b, _ = sites.create("Other shop", ["https://other.example"], public_id="other")
        world = {}
        for site in (a, b):
            product = Product(site_id=site.id, external_id="p1", name=f"Thing of {site.name}")
            db.session.add(product)
            db.session.commit()
            world[site.public_id] = {"site": site.id, "public_id": site.public_id, "product": product.id}
        owner = db.session.scalar(sa.select(User).where(User.email == "admin@example.com"))
        for public_id, w in world.items():
            inquiry_id = make_inquiry(app, w["product"], f"question on {public_id}")
            # One of each for the HTML routes and one for the JSON routes (each deletes its own).
            questions, endpoints, deliveries = [], [], []
            for _ in range(2):
                question = PublishedQuestion(product_id=w["product"], inquiry_id=inquiry_id, question="Q?", answer="A.")
                db.session.add(question)
                endpoint, _ = webhooks.create(owner, "https://hooks.example/in", ["message.created"], public_id)
                delivery = WebhookDelivery(
                    endpoint_id=endpoint.id, webhook_id=f"msg_{public_id}", event_type="test", payload="{}"
                )
                db.session.add(delivery)
                questions.append(question)
                endpoints.append(endpoint)
                deliveries.append(delivery)
            target = User(email=f"target-{public_id}@shop.example", name="Target", role="agent", all_sites=False)
            target.sites = [db.session.get(sites.Site, w["site"])]
            target.set_password(PASSWORD)
            db.session.add(target)
            invitation = Invitation(
                email=f"new-{public_id}@shop.example",
                role="agent",
                all_sites=False,
                site_ids=str(w["site"]),
                nonce_hash=public_id * 4,
                expires_at=utcnow().replace(year=2100),
            )
            db.session.add(invitation)
            db.session.commit()
            w["api"] = {"question_id": questions[1].id, "endpoint_id": endpoints[1].id, "delivery_id": deliveries[1].id}
            w.update(
                inquiry_id=inquiry_id,
                question_id=questions[0].id,
                endpoint_id=endpoints[0].id,
                delivery_id=deliveries[0].id,
                key_id=sites.keys_of(db.session.get(sites.Site, w["site"]))[0].id,
                user_id=target.id,
                invitation_id=invitation.id,
            )
        reply = CannedReply(title="Hi", shortcut="hi", body="Hello!")
        db.session.add(reply)
        db.session.commit()
        for w in world.values():
            # One's own session and token: the services look them up among one's own (none here).
            w.update(reply_id=reply.id, session_id=999999, token_id=999999, subscription_id=999999)
    return world


def _person(app, role, site_public_id):
    with app.app_context():
        user = User(email=f"{role}@shop.example", name=role.title(), role=role, all_sites=False)
        user.sites = [sites.find(site_public_id)]
        user.set_password(PASSWORD)
        db.session.add(user)
        db.session.commit()
        token = admin_tokens.create(user, "matrix")
        return user.id, token


def expected(rule, role, inside):
    """404, 403 or "allowed" for this route, role and side."""
    action, kind, every_site = access.RULES[rule.endpoint]
    site_bound = kind in ("inquiry", "site", "question", "webhook", "stream")
    if site_bound and not inside:
        return 404
    if access.RANK[role] < access.RANK[access.ACTIONS[action]]:
        return 403
    if every_site:
        return 404  # these people work on one site: every-site things do not exist for them
    return "allowed"


def _url(rule, objects, inside_world):
    values = {}
    for name in rule.arguments:
        if rule.endpoint.startswith("api.") and name in inside_world["api"]:
            values[name] = inside_world["api"][name]
        else:
            values[name] = inside_world[name]
    url = rule.build(values, append_unknown=False)[1]
    if rule.endpoint == "admin.stream":
        url += f"?inquiry={inside_world['inquiry_id']}"
    return url


def _call(client, csrf, token, rule, url):
    method = next(m for m in ("DELETE", "PUT", "POST", "GET") if m in rule.methods)
    if rule.endpoint.startswith("api."):
        headers = {"Authorization": f"Bearer {token}"}
        kwargs = {"json": {}} if method != "GET" else {}
        return client.open(url, method=method, headers=headers, **kwargs)
    headers = {"X-CSRFToken": csrf}
    return client.open(url, method=method, headers=headers, data={} if method != "GET" else None)


def _message(response):
    if response.is_json:
        return (response.get_json() or {}).get("error", "")
    text = response.get_data(as_text=True)
    found = re.search(r'<section class="error-page">.*?<p>(.*?)</p>', text, re.S)
    return html.unescape(found.group(1).strip()) if found else text[:200]


def _refused_by_role(response):
    return response.status_code == 403 and "does not allow this" in _message(response)


def _refused(response):
    """Refused by the access rules: a 401, the role's 403, a 404 of access.py's, a login redirect."""
    got = response.status_code
    return (
        got == 401
        or _refused_by_role(response)
        or (got == 404 and _message(response) in ACCESS_404)
        or (got == 302 and "/admin/login" in response.headers.get("Location", ""))
    )


CASES = [(role, inside) for role in ROLES for inside in (True, False)]


@pytest.mark.parametrize("role,inside", CASES, ids=[f"{r}-{'inside' if i else 'outside'}" for r, i in CASES])
def test_access_matrix(app, demo, role, inside):
    world = _world(app)
    user_id, token = _person(app, role, "demo")
    target = world["demo" if inside else "other"]
    client = app.test_client()
    csrf = admin_login(client, f"{role}@shop.example", PASSWORD)
    wrong = []
    checked = 0
    for rule in admin_routes(app):
        if rule.endpoint in LAST:
            csrf = admin_login(client, f"{role}@shop.example", PASSWORD)  # each logs out
        want = expected(rule, role, inside)
        response = _call(client, csrf, token, rule, _url(rule, world, target))
        got = response.status_code
        checked += 1
        if want == "allowed" and rule.endpoint in LAST:
            ok = got == 302  # logged out, as asked
        elif want == "allowed":
            ok = got < 500 and not _refused(response)
        elif want == 403:
            ok = _refused_by_role(response)
        else:
            ok = got == 404 and _message(response) in ACCESS_404
        if not ok:
            wrong.append((rule.endpoint, want, got, _message(response)[:120]))
    assert wrong == []
    assert checked == len(admin_routes(app))


def test_an_every_site_owner_may_use_every_route_on_both_sites(app, demo):
    """The other corner of the matrix: the demo's owner (every site) is refused nothing."""
    world = _world(app)
    with app.app_context():
        owner = db.session.scalar(sa.select(User).where(User.email == "admin@example.com"))
        token = admin_tokens.create(owner, "matrix")
    for public_id in ("demo", "other"):
        client = app.test_client()
        csrf = admin_login(client, demo["admin_email"], demo["admin_password"])
        wrong = []
        for rule in admin_routes(app):
            if rule.endpoint in LAST:
                csrf = admin_login(client, demo["admin_email"], demo["admin_password"])
            response = _call(client, csrf, token, rule, _url(rule, world, world[public_id]))
            got = response.status_code
            if got >= 500 or (_refused(response) and rule.endpoint not in LAST):
                wrong.append((rule.endpoint, got, _message(response)[:120]))
        assert wrong == []
