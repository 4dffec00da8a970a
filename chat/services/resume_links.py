"""Resume links: the link in an answer mail that opens the conversation in any browser.

A link names the session, the address it was mailed to and a nonce, and lives
``CHAT_RESUME_LINK_HOURS``. It works once, only while that session still has
that address, and never silently replaces a chat: a browser whose own session
already has conversations on the site (or is a verified customer's) must say so
first (``replace=True``, the shopper's explicit choice).
"""

import sqlalchemy as sa
from flask_babel import gettext, lazy_gettext
from sqlalchemy.exc import IntegrityError

from .. import identity
from ..extensions import db
from ..models import Product, ProductInquiry, UsedResumeLink
from . import shoppers
from .errors import Conflict, Forbidden

NOT_VALID = lazy_gettext(
    "This link has expired or is not valid any more. Your questions are in the chat where you asked them."
)
USED = lazy_gettext("This link has been used already: each link in our emails opens the chat once.")
CHOOSE = lazy_gettext("You already have a chat here: open the conversation from the email instead?")


def mint(inquiry):
    """The token for an answer mail to the inquiry's address."""
    return identity.resume_token(inquiry.session_id, inquiry.customer_email, inquiry.product.site.public_id)


def has_conversation(session_id, site):
    """Has the session a conversation about one of the site's products?"""
    query = (
        sa.select(ProductInquiry.id)
        .join(Product, Product.id == ProductInquiry.product_id)
        .where(ProductInquiry.session_id == session_id, Product.site_id == site.id)
        .limit(1)
    )
    return session_id is not None and db.session.scalar(query) is not None


def _has_chat(session_id, site):
    """Would taking this session away lose the shopper something on this site?"""
    if session_id is None:
        return False
    shopper = shoppers.find(session_id)
    return (shopper is not None and shopper.external_id is not None) or has_conversation(session_id, site)


def redeem(site, token, current_session, replace=False):
    """The session a resume link opens on ``site``, for a browser holding ``current_session``.

    Raises Forbidden (altered, expired, another site's, the address changed, or used
    already) and Conflict (the browser has a chat of its own here and ``replace`` is
    not True: ask the shopper). Returns the link's session id; the link is used up,
    unless it names the session the browser holds already.
    """
    link = identity.read_resume_token(token)
    if link is None or link.site != site.public_id:
        raise Forbidden(NOT_VALID, {"token": gettext("not valid")})
    shopper = shoppers.find(link.session_id)
    if shopper is None or shopper.email != link.email or not has_conversation(link.session_id, site):
        raise Forbidden(NOT_VALID, {"token": gettext("not valid")})  # the address was removed or changed
    if link.session_id == current_session:
        return link.session_id  # this browser holds it already (opened again): nothing to hand over
    if db.session.get(UsedResumeLink, link.nonce) is not None:
        raise Forbidden(USED, {"token": gettext("used")})
    if replace is not True and _has_chat(current_session, site):
        raise Conflict(CHOOSE, {"replace": gettext("the browser has a chat of its own: ask the shopper")})
    db.session.add(UsedResumeLink(nonce=link.nonce))
    try:
        db.session.commit()
    except IntegrityError:  # the same link, redeemed at the same moment elsewhere
        db.session.rollback()
        raise Forbidden(USED, {"token": gettext("used")}) from None
    return link.session_id


def purge(before):
    """Forget used links older than ``before`` (they have expired anyway)."""
    db.session.execute(sa.delete(UsedResumeLink).where(UsedResumeLink.used_at < before))
