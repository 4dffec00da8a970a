"""The team: invitations (signed, single use, valid INVITATION_DAYS), roles and sites, deactivation.

An invitation link carries the invitation's id and a random nonce, signed with
SECRET_KEY; only the nonce's hash is kept, so "Resend" (a new nonce) makes the old
link stop working. Accepting is a compare-and-set on ``accepted_at``: two tabs
accepting the same link make one account. Who may give which role is access.py's
(owners any, managers agents on their own sites). Every change is audited.
"""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext, lazy_gettext
from itsdangerous import BadSignature, URLSafeSerializer

from .. import links
from ..extensions import db
from ..models import ROLES, AdminSession, Invitation, ProductInquiry, Site, User, utcnow
from . import access, admin_sessions, audit, inquiries, notifications, validation
from .errors import Conflict, Forbidden, NotFound, ServiceError, ValidationError

SALT = "team-invitation"
OPEN_STATUSES = ("pending", "in_progress")


class Gone(ServiceError):
    """An invitation that was used, revoked or has expired."""

    status = 410


def _hash(nonce):
    return hashlib.sha256(nonce.encode()).hexdigest()


def _serializer():
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt=SALT)


def clean_role(value, field="role"):
    if value not in ROLES:
        raise ValidationError(
            gettext("role must be owner, manager or agent."), {field: gettext("owner, manager or agent")}
        )
    return value


def clean_sites(value, field="sites"):
    """``None`` (every site) or a list of site public ids -> (all_sites, [Site])."""
    if value is None:
        return True, []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
        raise ValidationError(
            gettext("sites must be a list of site ids, or null for every site."),
            {field: gettext("a non-empty list, or null")},
        )
    found = db.session.scalars(sa.select(Site).where(Site.public_id.in_(value))).all()
    if len(found) != len(set(value)):
        missing = sorted(set(value) - {s.public_id for s in found})
        raise ValidationError(
            gettext("No such site: %(site)s.", site=missing[0]),
            {field: gettext("unknown site %(site)s", site=missing[0])},
        )
    return False, sorted(found, key=lambda s: s.name)


def _may_give(actor, role, all_sites, site_list):
    """Forbidden/NotFound unless ``actor`` may give ``role`` on these sites (None: the command line)."""
    if actor is None:
        return
    if not access.assignable_role(actor, role):
        raise Forbidden(gettext("You can invite and change agents only; ask an owner for other roles."))
    if all_sites and access.visible_site_ids(actor) is not None:
        raise Forbidden(gettext("You can give only your own sites."), {"sites": gettext("your sites only")})
    for site in site_list:
        if not access.sees_site(actor, site.id):
            raise ValidationError(
                gettext("No such site: %(site)s.", site=site.public_id),
                {"sites": gettext("unknown site %(site)s", site=site.public_id)},
            )


def _may_manage(actor, user):
    """Forbidden unless ``user`` works only on sites of ``actor`` (every-site actors: anyone)."""
    ids = access.visible_site_ids(actor) if actor is not None else None
    if ids is None:
        return
    if user.all_sites or not {s.id for s in user.sites} <= ids:
        raise Forbidden(gettext("You can change the people of your own sites only."))
    if not access.assignable_role(actor, user.role):
        raise Forbidden(gettext("You can change agents only; ask an owner."))


def describe_sites(all_sites, site_list):
    return "all sites" if all_sites else ", ".join(s.public_id for s in site_list) or "no site"


# -- invitations -----------------------------------------------------------------


STATE_NAMES = {
    "pending": lazy_gettext("pending"),
    "accepted": lazy_gettext("accepted"),
    "revoked": lazy_gettext("revoked"),
    "expired": lazy_gettext("expired"),
}


def state_name(state):
    """An invitation's state as the page's language says it."""
    return str(STATE_NAMES.get(state, state))


def link_for(invitation, nonce):
    token = _serializer().dumps({"i": invitation.id, "n": nonce})
    return links.external("admin.accept_invitation", token=token)


def _send(invitation, url):
    days = current_app.config["INVITATION_DAYS"]
    notifications.queue_mail(
        f"invite:{invitation.id}:{invitation.nonce_hash[:16]}",
        invitation.email,
        gettext("You are invited to answer customers’ questions"),  # in the inviter's panel language
        "invitation",
        invitation=invitation,
        url=url,
        days=days,
        inviter=invitation.inviter.name if invitation.inviter else gettext("The shop"),
    )


def invite(actor, email, role, sites=None):
    """Invite ``email`` with ``role`` on ``sites`` (None: every site); the mail goes out with
    the next outbox run. Returns (invitation, url)."""
    email = admin_sessions.normalise_email(validation.email(email, "email"))
    role = clean_role(role)
    all_sites, site_list = clean_sites(sites)
    _may_give(actor, role, all_sites, site_list)
    if admin_sessions.find_admin(email) is not None:
        raise Conflict(
            gettext("This email has an account already: change their role on the People page."),
            {"email": gettext("taken")},
        )
    nonce = secrets.token_urlsafe(24)
    invitation = Invitation(
        email=email,
        role=role,
        all_sites=all_sites,
        site_ids=" ".join(str(s.id) for s in site_list),
        nonce_hash=_hash(nonce),
        invited_by=actor.id if actor is not None else None,
        expires_at=utcnow() + timedelta(days=current_app.config["INVITATION_DAYS"]),
    )
    db.session.add(invitation)
    db.session.flush()
    url = link_for(invitation, nonce)
    _send(invitation, url)
    audit.record(
        "person.invited", "invitation", invitation.id, f"{email} as {role} on {describe_sites(all_sites, site_list)}"
    )
    db.session.commit()
    return invitation, url


def _pending(invitation_id, actor):
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None:
        raise NotFound(gettext("No such invitation."))
    sites = db.session.scalars(sa.select(Site).where(Site.id.in_(invitation.site_id_list or [-1]))).all()
    _may_give(actor, invitation.role, invitation.all_sites, sites)
    if invitation.accepted_at is not None:
        raise Gone(gettext("This invitation was accepted already."))
    return invitation


def resend(actor, invitation_id):
    """A fresh link (the old one stops working), valid INVITATION_DAYS again; mailed again."""
    invitation = _pending(invitation_id, actor)
    nonce = secrets.token_urlsafe(24)
    invitation.nonce_hash = _hash(nonce)
    invitation.revoked_at = None
    invitation.expires_at = utcnow() + timedelta(days=current_app.config["INVITATION_DAYS"])
    url = link_for(invitation, nonce)
    _send(invitation, url)
    audit.record("invitation.resent", "invitation", invitation.id, invitation.email)
    db.session.commit()
    return invitation, url


def revoke(actor, invitation_id):
    invitation = _pending(invitation_id, actor)
    invitation.revoked_at = utcnow()
    audit.record("invitation.revoked", "invitation", invitation.id, invitation.email)
    db.session.commit()
    return invitation


def redeem(token):
    """The pending invitation a link names; NotFound for a bad link, Gone when used, revoked or expired."""
    try:
        data = _serializer().loads(token or "")
        invitation_id, nonce = int(data["i"]), str(data["n"])
    except (BadSignature, KeyError, TypeError, ValueError):
        raise NotFound(gettext("This invitation link is not valid: check that it was copied whole.")) from None
    invitation = db.session.get(Invitation, invitation_id)
    if invitation is None or not secrets.compare_digest(invitation.nonce_hash, _hash(nonce)):
        raise Gone(gettext("This invitation link was replaced by a newer one, or withdrawn: use the latest mail."))
    if invitation.accepted_at is not None:
        raise Gone(gettext("This invitation was used already: log in instead."))
    if invitation.revoked_at is not None:
        raise Gone(gettext("This invitation was withdrawn. Ask whoever invited you for a new one."))
    if invitation.expires_at <= utcnow():
        raise Gone(gettext("This invitation has expired. Ask whoever invited you to send it again."))
    return invitation


def accept(token, name, password, confirm):
    """Create the invited person's account (the invitation's email, role and sites); returns the User.

    Conflict when the email has an account by now (they log in instead)."""
    invitation = redeem(token)
    if admin_sessions.find_admin(invitation.email) is not None:
        raise Conflict(
            gettext("This email has an account already: log in instead."), {"email": gettext("has an account")}
        )
    name = validation.clean_text(name, "name", 120, what=lazy_gettext("Your name")).strip()
    if not name:
        raise ValidationError(gettext("Tell us your name."), {"name": gettext("required")})
    password = admin_sessions._new_password(password, "password")
    if confirm != password:
        raise ValidationError(
            gettext("The two passwords differ."), {"confirm_password": gettext("must repeat the password")}
        )
    used = db.session.execute(
        sa.update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.accepted_at.is_(None))
        .values(accepted_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if not used:
        db.session.rollback()
        raise Gone(gettext("This invitation was used already: log in instead."))
    user = User(email=invitation.email, name=name, role=invitation.role, all_sites=invitation.all_sites)
    user.sites = db.session.scalars(sa.select(Site).where(Site.id.in_(invitation.site_id_list or [-1]))).all()
    user.set_password(password)
    db.session.add(user)
    db.session.flush()
    invitation.accepted_by = user.id
    audit.record("invitation.accepted", "person", user.id, f"{user.email} as {user.role}", actor=user)
    db.session.commit()
    return user


def invitations(actor):
    """Pending (and recently ended) invitations the actor may see, newest first."""
    rows = db.session.scalars(
        sa.select(Invitation).where(Invitation.accepted_at.is_(None)).order_by(Invitation.id.desc()).limit(100)
    ).all()
    return [i for i in rows if _visible_invitation(actor, i)]


def _visible_invitation(actor, invitation):
    ids = access.visible_site_ids(actor)
    if ids is None:
        return True
    return not invitation.all_sites and set(invitation.site_id_list) <= ids


# -- people ------------------------------------------------------------------------


@dataclass
class Person:
    user: User
    last_seen: object


def people(actor):
    """Everyone the actor works with (people of their sites; everyone for every-site people)."""
    last_seen = dict(
        db.session.execute(
            sa.select(AdminSession.user_id, sa.func.max(AdminSession.last_seen_at)).group_by(AdminSession.user_id)
        ).all()
    )
    users = db.session.scalars(sa.select(User).order_by(User.is_active.desc(), User.name)).all()
    ids = access.visible_site_ids(actor)
    if ids is not None:
        users = [u for u in users if u.all_sites or ids & {s.id for s in u.sites}]
    return [Person(u, last_seen.get(u.id)) for u in users]


def as_dict(person):
    user = person.user
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "role": user.role,
        "sites": None if user.all_sites else [s.public_id for s in user.sites],
        "active": user.is_active,
        "last_seen": person.last_seen.isoformat() + "Z" if person.last_seen else None,
    }


def get(user_id):
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(gettext("No such person."))
    return user


def _owners_left(excluding):
    return db.session.scalar(
        sa.select(sa.func.count(User.id)).where(
            User.role == "owner", User.is_active.is_(True), User.all_sites.is_(True), User.id != excluding.id
        )
    )


def change(actor, user, role, sites):
    """Set ``user``'s role and sites (``sites`` None: every site). The last owner of every site
    stays one. An assignee who loses a site is unassigned from its open inquiries."""
    role = clean_role(role)
    all_sites, site_list = clean_sites(sites)
    _may_manage(actor, user)
    _may_give(actor, role, all_sites, site_list)
    was_owner = user.role == "owner" and user.all_sites and user.is_active
    if was_owner and not (role == "owner" and all_sites) and not _owners_left(user):
        raise Conflict(
            gettext("This is the last owner of every site: make someone else an owner first."),
            {"role": gettext("last owner")},
        )
    before = f"{user.role} on {describe_sites(user.all_sites, user.sites)}"
    lost = _lost_sites(user, all_sites, site_list)
    user.role, user.all_sites = role, all_sites
    user.sites = [] if all_sites else site_list
    after = f"{role} on {describe_sites(all_sites, site_list)}"
    if before != after:
        audit.record("person.changed", "person", user.id, f"{user.email}: {before} -> {after}")
    db.session.commit()
    _unassign(actor, user, lost)
    return user


def _lost_sites(user, all_sites, site_list):
    """The ids of sites ``user`` works on now and will not (None: every site but the new set)."""
    if all_sites:
        return set()
    keep = {s.id for s in site_list}
    if user.all_sites:
        return {sid for (sid,) in db.session.execute(sa.select(Site.id)) if sid not in keep}
    return {s.id for s in user.sites if s.id not in keep}


def _unassign(actor, user, site_ids):
    if not site_ids:
        return
    from ..models import Product

    open_ids = db.session.scalars(
        sa.select(ProductInquiry.id).where(
            ProductInquiry.assigned_admin_id == user.id,
            ProductInquiry.status.in_(OPEN_STATUSES),
            ProductInquiry.product_id.in_(sa.select(Product.id).where(Product.site_id.in_(site_ids))),
        )
    ).all()
    for inquiry_id in open_ids:
        inquiries.assign(inquiry_id, actor, None)


def set_active(actor, user, active):
    """Deactivate (every session ends, tokens stop working, open inquiries unassigned) or reactivate."""
    _may_manage(actor, user)
    if not active and user.role == "owner" and user.all_sites and not _owners_left(user):
        raise Conflict(gettext("This is the last owner of every site: make someone else an owner first."))
    ended = admin_sessions.set_active(user, active)
    audit.record("person.deactivated" if not active else "person.reactivated", "person", user.id, user.email)
    db.session.commit()
    if not active:
        _unassign(actor, user, {sid for (sid,) in db.session.execute(sa.select(Site.id))})
    return ended
