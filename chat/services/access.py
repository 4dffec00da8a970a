"""Who may do what, where: the one place that decides it.

A person has a role (owner > manager > agent) and works on every site or a chosen
set. ``can(admin, action, site)`` answers for one action on one site;
``visible_site_ids(admin)`` (None: every site) and ``site_condition`` narrow every
query an admin's page, stream, notification, export, JSON call or API token reads.
An API token acts with its owner's rights as they are now, never as they were.

Something on a site outside the person's sites does not exist for them (404, like an
unknown id: no existence leak); an action above their role is a 403.
"""

import sqlalchemy as sa
from flask_babel import gettext, lazy_gettext

from ..extensions import db
from ..models import ROLES, Product, ProductInquiry, PublishedQuestion, Site, User, WebhookEndpoint
from .errors import Forbidden, NotFound

RANK = {"agent": 1, "manager": 2, "owner": 3}

# The least role each action needs.
ACTIONS = {
    # Inquiries: read, answer, notes, status, priority, assignment, canned replies used, Q&A published.
    "inquiries": "agent",
    "questions": "agent",
    "tokens": "agent",  # one's own API tokens (never more than one's own rights)
    "account": "agent",
    "canned": "manager",  # edit the canned replies
    "hours": "manager",
    "site_settings": "manager",  # a site's name and origins
    "metrics": "manager",
    "invite": "manager",  # agents only, for a manager
    "people": "owner",
    "create_site": "owner",
    "keys": "owner",  # site API keys
    "identity_secret": "owner",
    "webhooks": "owner",
    "privacy": "owner",  # customer export, erasure, ending their sessions
    "audit": "owner",
}


NO_PAGE = lazy_gettext("No such page.")
ROLE_NAMES = {"owner": lazy_gettext("owner"), "manager": lazy_gettext("manager"), "agent": lazy_gettext("agent")}


def role_name(role):
    """A role ("owner", ...) as the page's language says it."""
    return str(ROLE_NAMES.get(role, role))


def role_of(admin):
    return admin.role if admin is not None and admin.role in RANK else "agent"


def has_role(admin, action):
    """Whether the admin's role allows ``action`` somewhere (sites aside)."""
    if admin is None or not admin.is_active:
        return False
    return RANK[role_of(admin)] >= RANK[ACTIONS[action]]


def visible_site_ids(admin):
    """The ids of the sites the admin works on; None means every site (now and future)."""
    if admin is None:
        return frozenset()
    if admin.all_sites:
        return None
    return frozenset(site.id for site in admin.sites)


def visible_sites(admin):
    """The sites the admin works on, by name."""
    ids = visible_site_ids(admin)
    query = sa.select(Site).order_by(Site.name)
    if ids is not None:
        query = query.where(Site.id.in_(ids or [-1]))
    return db.session.scalars(query).all()


def sees_site(admin, site_id):
    ids = visible_site_ids(admin)
    return ids is None or site_id in ids


def visibility_key(admin):
    """A hashable name for what the admin sees (for per-worker shared renderings)."""
    ids = visible_site_ids(admin)
    return "all" if ids is None else tuple(sorted(ids))


def site_condition(admin, site_column):
    """A WHERE condition keeping rows of the admin's sites (``site_column``: a site id column); None: all."""
    ids = visible_site_ids(admin)
    if ids is None:
        return None
    return site_column.in_(ids or [-1])


def inquiry_condition(admin):
    """A WHERE condition on ProductInquiry keeping the admin's sites' inquiries; None: all."""
    return inquiry_condition_for(visible_site_ids(admin))


def inquiry_condition_for(site_ids):
    """``inquiry_condition`` for a ``visible_site_ids`` result already known (a stream's)."""
    if site_ids is None:
        return None
    return ProductInquiry.product_id.in_(sa.select(Product.id).where(Product.site_id.in_(site_ids or [-1])))


def can(admin, action, site=None):
    """Whether ``admin`` may do ``action`` on ``site`` (a Site, a site id, or None: not site-bound)."""
    if not has_role(admin, action):
        return False
    if site is None:
        return True
    return sees_site(admin, site if isinstance(site, int) else site.id)


def require(admin, action, site_id=None, all_sites=False, what=NO_PAGE):
    """Raise NotFound when ``site_id`` is outside the admin's sites (or ``all_sites`` is
    needed and they have a set), Forbidden when the role does not allow ``action``."""
    if site_id is not None and not sees_site(admin, site_id):
        raise NotFound(what)
    if not has_role(admin, action):
        raise Forbidden(
            gettext("Your role (%(role)s) does not allow this; ask an owner.", role=role_name(role_of(admin)))
        )
    if all_sites and visible_site_ids(admin) is not None:
        raise NotFound(what)


# -- the site of an object named in a URL --------------------------------------


def inquiry_site_id(inquiry_id):
    return db.session.scalar(
        sa.select(Product.site_id)
        .join(ProductInquiry, ProductInquiry.product_id == Product.id)
        .where(ProductInquiry.id == inquiry_id)
    )


def question_site_id(question_id):
    return db.session.scalar(
        sa.select(Product.site_id)
        .join(PublishedQuestion, PublishedQuestion.product_id == Product.id)
        .where(PublishedQuestion.id == question_id)
    )


def site_id_of(public_id):
    return db.session.scalar(sa.select(Site.id).where(Site.public_id == public_id)) if public_id else None


def webhook_site(endpoint_id):
    """(exists, site id or None for an every-site endpoint)."""
    row = db.session.execute(sa.select(WebhookEndpoint.site_id).where(WebhookEndpoint.id == endpoint_id)).first()
    return (row is not None, row[0] if row else None)


def can_see_inquiry(admin, inquiry_id):
    site_id = inquiry_site_id(inquiry_id)
    return site_id is not None and has_role(admin, "inquiries") and sees_site(admin, site_id)


def inquiry(admin, inquiry_id):
    """The inquiry if the admin may see it; NotFound otherwise (an unknown id looks the same)."""
    found = db.session.get(ProductInquiry, inquiry_id)
    if found is None or not can(admin, "inquiries", found.product.site_id):
        raise NotFound(gettext("No such inquiry."), {"inquiry_id": gettext("unknown inquiry")})
    return found


def members_of(site_id, active_only=True):
    """The people who work on the site (every-site people included)."""
    query = sa.select(User).order_by(User.name)
    if active_only:
        query = query.where(User.is_active.is_(True))
    if site_id is not None:
        from ..models import admin_sites

        query = query.where(
            sa.or_(
                User.all_sites.is_(True),
                User.id.in_(sa.select(admin_sites.c.user_id).where(admin_sites.c.site_id == site_id)),
            )
        )
    return db.session.scalars(query).all()


def assignable_role(inviter, role):
    """Whether ``inviter`` may give ``role`` to someone (invite or change): owners any, managers agents."""
    if role not in ROLES:
        return False
    if role_of(inviter) == "owner":
        return True
    return role_of(inviter) == "manager" and role == "agent"


# -- every admin route's rule ---------------------------------------------------
# endpoint -> (action, the kind of object its URL names, whether it needs every site).
# A route missing here is refused (403) and fails tests/test_access_matrix.py, so no
# route can ship unclassified. Kinds: None (nothing named), "inquiry", "site",
# "question", "webhook", "own" (one's own session or token: the service checks the owner),
# "person", "invitation".
PUBLIC = frozenset({"admin.login", "admin.accept_invitation"})
INQUIRY_ROUTES = (
    "admin.inquiry_page admin.inquiry_messages admin.answer admin.change_status admin.change_priority "
    "admin.change_assignee admin.read admin.typing admin.add_note admin.canned_suggestions "
    "api.admin.admin_get_inquiry api.admin.admin_respond api.admin.admin_set_status "
    "api.admin.admin_set_priority api.admin.admin_assign api.admin.admin_add_note"
).split()
WEBHOOK_ROUTES = (
    "admin.webhook_page admin.webhook_log admin.update_webhook admin.set_webhook_enabled "
    "admin.rotate_webhook_secret admin.test_webhook admin.redeliver_webhook admin.delete_webhook "
    "api.admin.admin_get_webhook api.admin.admin_update_webhook api.admin.admin_delete_webhook "
    "api.admin.admin_rotate_webhook_secret api.admin.admin_webhook_deliveries api.admin.admin_test_webhook "
    "api.admin.admin_redeliver_webhook"
).split()
RULES = {
    **{endpoint: ("inquiries", "inquiry", False) for endpoint in INQUIRY_ROUTES},
    **{endpoint: ("webhooks", "webhook", False) for endpoint in WEBHOOK_ROUTES},
    "admin.inquiries": ("inquiries", None, False),
    "admin.inquiries_page": ("inquiries", None, False),
    "admin.stream": ("inquiries", "stream", False),  # ?inquiry=<id>: that inquiry's site
    "api.admin.admin_list_inquiries": ("inquiries", None, False),
    "admin.logout": ("account", None, False),
    "admin.logout_everywhere": ("account", None, False),
    "admin.account": ("account", None, False),
    "admin.change_password": ("account", None, False),
    "admin.change_public_name": ("account", None, False),
    "admin.change_language": ("account", None, False),
    "admin.end_session": ("account", "own", False),
    # One's own devices and push choices (the push service checks the device is theirs).
    "admin.change_push_preferences": ("account", None, False),
    "admin.remove_device": ("account", "own", False),
    "admin.test_device": ("account", "own", False),
    "api.admin.admin_subscribe_push": ("account", None, False),
    "api.admin.admin_unsubscribe_push": ("account", "own", False),
    "admin.tokens": ("tokens", None, False),
    "admin.revoke_token": ("tokens", "own", False),
    "admin.canned_page": ("inquiries", None, False),
    "api.admin.admin_list_canned": ("inquiries", None, False),
    "admin.create_canned": ("canned", None, False),
    "admin.update_canned": ("canned", None, False),
    "admin.delete_canned": ("canned", None, False),
    "api.admin.admin_create_canned": ("canned", None, False),
    "api.admin.admin_update_canned": ("canned", None, False),
    "api.admin.admin_delete_canned": ("canned", None, False),
    # A customer's data spans sites (one email, many shops): every site, and an owner.
    "admin.revoke_customer_sessions": ("privacy", "inquiry", True),
    "admin.export_customer": ("privacy", "inquiry", True),
    "admin.export_customer_zip": ("privacy", "inquiry", True),
    "admin.erase_customer": ("privacy", "inquiry", True),
    "api.admin.admin_export_customer": ("privacy", None, True),
    "api.admin.admin_erase_customer": ("privacy", None, True),
    "api.admin.admin_revoke_customer_sessions": ("privacy", None, True),
    "admin.update_site_hours": ("hours", "site", False),
    "api.admin.admin_get_site_hours": ("hours", "site", False),
    "api.admin.admin_put_site_hours": ("hours", "site", False),
    # A site's languages: who may set its name and origins.
    "admin.update_site_languages": ("site_settings", "site", False),
    "api.admin.admin_get_site_languages": ("site_settings", "site", False),
    "api.admin.admin_put_site_languages": ("site_settings", "site", False),
    "admin.metrics_page": ("metrics", None, False),
    "admin.metrics_csv": ("metrics", None, False),
    "api.admin.admin_metrics": ("metrics", None, False),
    "admin.publish_form": ("questions", "inquiry", False),
    "admin.publish_question": ("questions", "inquiry", False),
    "api.admin.admin_publish_question": ("questions", "inquiry", False),
    "admin.edit_question": ("questions", "question", False),
    "admin.withdraw_question": ("questions", "question", False),
    "api.admin.admin_edit_question": ("questions", "question", False),
    "api.admin.admin_withdraw_question": ("questions", "question", False),
    "admin.sites_page": ("site_settings", None, False),
    "admin.create_site": ("create_site", None, True),
    "admin.site_page": ("site_settings", "site", False),
    "admin.update_site": ("site_settings", "site", False),
    "admin.create_site_key": ("keys", "site", False),
    "admin.revoke_site_key": ("keys", "site", False),
    "admin.rotate_identity_secret": ("identity_secret", "site", False),
    # Every-site endpoints are listed to an every-site owner only (the services check the site).
    "admin.webhooks_page": ("webhooks", None, False),
    "admin.create_webhook": ("webhooks", None, False),
    "api.admin.admin_list_webhooks": ("webhooks", None, False),
    "api.admin.admin_create_webhook": ("webhooks", None, False),
    "admin.people_page": ("invite", None, False),
    "admin.invite": ("invite", None, False),
    "admin.resend_invitation": ("invite", "invitation", False),
    "admin.revoke_invitation": ("invite", "invitation", False),
    "admin.update_person": ("people", "person", False),
    "admin.deactivate_person": ("people", "person", False),
    "admin.reactivate_person": ("people", "person", False),
    "api.admin.admin_people": ("invite", None, False),
    "api.admin.admin_invite": ("invite", None, False),
    "api.admin.admin_update_person": ("people", "person", False),
    "admin.audit_page": ("audit", None, False),
    "admin.audit_csv": ("audit", None, False),
    "api.admin.admin_audit": ("audit", None, False),
}

NOT_FOUND = {
    "inquiry": lazy_gettext("No such inquiry."),
    "site": lazy_gettext("No such site."),
    "question": lazy_gettext("No such published question."),
    "webhook": lazy_gettext("No such webhook endpoint."),
    "person": lazy_gettext("No such person."),
    "invitation": lazy_gettext("No such invitation."),
}


def _object_site(kind, view_args, args):
    """(whether the named object exists, its site id or None)."""
    if kind == "stream":
        # An inquiry page's stream names its inquiry in the query string (malformed: the view's 400).
        named = (args or {}).get("inquiry") or ""
        if not (named.isascii() and named.isdigit() and len(named) < 19):
            return True, None
        kind, view_args = "inquiry", {"inquiry_id": int(named)}
    if kind == "inquiry":
        site_id = inquiry_site_id(view_args["inquiry_id"])
        return site_id is not None, site_id
    if kind == "site":
        site_id = site_id_of(view_args["public_id"])
        return site_id is not None, site_id
    if kind == "question":
        site_id = question_site_id(view_args["question_id"])
        return site_id is not None, site_id
    if kind == "webhook":
        return webhook_site(view_args["endpoint_id"])
    return True, None


def check_route(admin, endpoint, view_args, args=None):
    """Raise NotFound or Forbidden unless ``admin`` may use ``endpoint`` on what ``view_args``
    (and, for the stream, the query string ``args``) name."""
    if endpoint in PUBLIC:
        return
    rule = RULES.get(endpoint)
    if rule is None:
        raise Forbidden(gettext("This page has no access rule yet."))
    action, kind, every_site = rule
    exists, site_id = _object_site(kind, view_args or {}, args)
    what = NOT_FOUND.get("inquiry" if kind == "stream" else kind, NO_PAGE)
    if not exists:
        raise NotFound(what)
    if kind == "webhook" and site_id is None:
        every_site = True  # an endpoint for every site belongs to every-site owners
    require(admin, action, site_id, every_site, what)
