"""The seed's four tables and the ones the features added since, as SQLAlchemy models.

Timestamps are naive UTC datetimes set by the application (``utcnow``), so
SQLite and MariaDB agree whatever the server's time zone is.
"""

from datetime import UTC, datetime

import sqlalchemy as sa
from flask import current_app
from flask_login import UserMixin
from sqlalchemy.dialects import mysql
from werkzeug.security import check_password_hash, generate_password_hash

from .extensions import db

INQUIRY_STATUSES = ("pending", "in_progress", "resolved", "closed")
PRIORITIES = ("low", "medium", "high")
SENDER_TYPES = ("customer", "admin")
# note: an admin's private note (always internal: customers never see it).
MESSAGE_TYPES = ("text", "system", "note")
RATINGS = ("good", "bad")
# What a webhook endpoint may subscribe to (chat/services/webhook_events.py writes them).
WEBHOOK_EVENTS = ("inquiry.created", "message.created", "inquiry.updated", "rating.created", "question.published")
WEBHOOK_DELIVERY_STATES = ("pending", "delivered", "failed")

# Microsecond precision on MySQL (DATETIME defaults to whole seconds).
Timestamp = sa.DateTime().with_variant(mysql.DATETIME(fsp=6), "mysql", "mariadb")


VISIBILITIES = ("public", "internal")
# What a person of the shop may do (chat/services/access.py decides): owner > manager > agent.
ROLES = ("owner", "manager", "agent")


def utcnow():
    return datetime.now(UTC).replace(tzinfo=None)


class Site(db.Model):
    """A shop that offers the chat: ours (the demo shop) or another one embedding the widget.

    Its allowed origins may frame the chat (CSP ``frame-ancestors``) and call the
    customer API (CORS); its identity secret signs logged-in shoppers.
    """

    __tablename__ = "sites"

    id = sa.Column(sa.Integer, primary_key=True)
    public_id = sa.Column(sa.String(40), nullable=False, unique=True)
    name = sa.Column(sa.String(120), nullable=False)
    # One origin per line ("https://shop.example"); empty: our own pages only.
    allowed_origins = sa.Column(sa.Text, nullable=False, default="")
    identity_secret = sa.Column(sa.String(64), nullable=False)
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    # When the shop answers (chat/services/hours.py): an IANA zone and JSON spans
    # per weekday; no hours means always open.
    timezone = sa.Column(sa.String(64), nullable=False, default="UTC", server_default="UTC")
    business_hours = sa.Column(sa.Text)
    # The shopper's languages (chat/i18n.py): enabled codes, comma-separated (empty: every
    # shipped language), and the one for shoppers whose browser asks for none of them.
    languages = sa.Column(sa.String(64), nullable=False, default="", server_default="")
    default_language = sa.Column(sa.String(8), nullable=False, default="en", server_default="en")
    # New inquiries go to the member online with the fewest waiting (chat/services/assignment.py).
    auto_assign = sa.Column(sa.Boolean, nullable=False, default=False, server_default=sa.false())

    @property
    def origins(self):
        return [line for line in (self.allowed_origins or "").split() if line]

    def __repr__(self):
        return f"<Site {self.public_id}>"


class SiteApiKey(db.Model):
    """A key for the product sync API (only its hash is kept)."""

    __tablename__ = "site_api_keys"

    id = sa.Column(sa.Integer, primary_key=True)
    site_id = sa.Column(sa.Integer, sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False, index=True)
    name = sa.Column(sa.String(100), nullable=False)
    key_hash = sa.Column(sa.String(64), nullable=False, unique=True)
    # The first characters, to tell keys apart in the panel.
    prefix = sa.Column(sa.String(16), nullable=False)
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    last_used_at = sa.Column(Timestamp)

    site = db.relationship("Site")


class Product(db.Model):
    """A product of a site, found by (site, external id): the shop's own id for it."""

    __tablename__ = "products"
    __table_args__ = (sa.UniqueConstraint("site_id", "external_id", name="uq_product_site_external"),)

    id = sa.Column(sa.Integer, primary_key=True)
    site_id = sa.Column(sa.Integer, sa.ForeignKey("sites.id", ondelete="CASCADE"), nullable=False)
    # Compared exactly: the shop's "abc" and "ABC" are two products (MariaDB's
    # default collation would fold case and accents).
    external_id = sa.Column(
        sa.String(100).with_variant(mysql.VARCHAR(100, collation="utf8mb4_bin"), "mysql", "mariadb"), nullable=False
    )
    name = sa.Column(sa.String(200), nullable=False)
    description = sa.Column(sa.Text, nullable=False, default="")
    # Unknown until the shop syncs the product (a chat may start before that).
    price = sa.Column(sa.Numeric(10, 2))
    currency = sa.Column(sa.String(3), nullable=False, default="EUR", server_default="EUR")
    image_url = sa.Column(sa.String(500))
    page_url = sa.Column(sa.String(500))
    stock = sa.Column(sa.Integer)
    # None: known only from the page the chat was opened on (title and URL).
    synced_at = sa.Column(Timestamp)
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    updated_at = sa.Column(Timestamp, nullable=False, default=utcnow, onupdate=utcnow)

    site = db.relationship("Site", lazy="joined")

    @property
    def initials(self):
        return "".join(word[0] for word in self.name.split()[:2]).upper()

    @property
    def hue(self):
        # A stable colour for the drawn placeholder image.
        return ((self.id or 0) * 47) % 360

    def __repr__(self):
        return f"<Product {self.id} {self.name!r}>"


# Which sites a person works on, when not all of them (User.all_sites False).
admin_sites = sa.Table(
    "admin_sites",
    db.metadata,
    sa.Column("user_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("site_id", sa.Integer, sa.ForeignKey("sites.id", ondelete="CASCADE"), primary_key=True, index=True),
)


class User(UserMixin, db.Model):
    """A person of the shop: an owner, manager or agent, on every site or a chosen set."""

    __tablename__ = "users"

    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(255), nullable=False, unique=True)
    name = sa.Column(sa.String(120), nullable=False)
    password_hash = sa.Column(sa.String(255), nullable=False)
    is_active = sa.Column(sa.Boolean, nullable=False, default=True, server_default=sa.true())
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    # What customers see next to this admin's answers (empty: the shop's name).
    public_name = sa.Column(sa.String(120))
    # The panel's language, chosen on the Account page (None: the browser's).
    language = sa.Column(sa.String(8))
    role = sa.Column(sa.String(10), nullable=False, default="owner", server_default="owner")
    # True: every site, present and future; False: only ``sites``.
    all_sites = sa.Column(sa.Boolean, nullable=False, default=True, server_default=sa.true())
    # The last round robin pick for automatic assignment (chat/services/assignment.py).
    last_assigned_at = sa.Column(Timestamp)

    sites = db.relationship("Site", secondary=admin_sites, order_by="Site.name")

    # Which admin session this object was loaded for (set by services.admin_sessions;
    # plain attributes, not columns).
    session_key = None
    admin_session_id = None

    def get_id(self):
        # Flask-Login's "alternative token": what it keeps in the session and the
        # remember cookie names one row of admin_sessions, so deleting the row
        # ends every copy of those cookies.
        if self.session_key is None:
            raise RuntimeError("log admins in through chat.services.admin_sessions.log_in")
        return f"{self.id}:{self.session_key}"

    # UserMixin compares users by get_id(), which now names a session: compare
    # as plain ORM objects instead (one object per row within a db session).
    __eq__ = object.__eq__
    __ne__ = object.__ne__
    __hash__ = object.__hash__

    def set_password(self, password):
        # Werkzeug's scrypt hash: salted, slow, maintained with Flask (tests pick a cheaper one).
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt")
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password):
        return check_password_hash(self.password_hash, password)

    def __repr__(self):
        return f"<User {self.email}>"


class AdminSession(db.Model):
    """One login of an admin. The browser holds a random key; only its hash is kept.
    Deleting the row ends that session wherever a copy of the cookie lives."""

    __tablename__ = "admin_sessions"

    id = sa.Column(sa.Integer, primary_key=True)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    key_hash = sa.Column(sa.String(64), nullable=False, unique=True)
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    last_seen_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    user_agent = sa.Column(sa.String(200))

    user = db.relationship("User")


class Shopper(db.Model):
    """A customer as the server knows them: their session, email and consent.

    ``session_id`` is the random id their signed token carries (and that
    inquiries keep). Tokens issued before ``tokens_valid_after`` are refused
    (an admin revoked them). ``external_id`` is the shop's own customer id,
    set only from a correctly signed identity.
    """

    __tablename__ = "shoppers"
    __table_args__ = (sa.UniqueConstraint("site_id", "external_id", name="uq_shopper_site_external"),)

    id = sa.Column(sa.Integer, primary_key=True)
    session_id = sa.Column(sa.String(64), nullable=False, unique=True)
    site_id = sa.Column(sa.Integer, sa.ForeignKey("sites.id", ondelete="CASCADE"))
    external_id = sa.Column(sa.String(190))
    verified_at = sa.Column(Timestamp)
    email = sa.Column(sa.String(255), index=True)
    email_consent_at = sa.Column(Timestamp)
    tokens_valid_after = sa.Column(Timestamp)
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    last_seen_at = sa.Column(Timestamp)
    # The language they last wrote in (the chat's negotiated one): their emails speak it.
    language = sa.Column(sa.String(8))


class StreamTicket(db.Model):
    """A used single-use stream ticket (EventSource cannot send our header)."""

    __tablename__ = "stream_tickets"

    nonce = sa.Column(sa.String(32), primary_key=True)
    used_at = sa.Column(Timestamp, nullable=False, default=utcnow, index=True)


class UsedResumeLink(db.Model):
    """A redeemed resume link (the link in an answer mail works once)."""

    __tablename__ = "used_resume_links"

    nonce = sa.Column(sa.String(32), primary_key=True)
    used_at = sa.Column(Timestamp, nullable=False, default=utcnow, index=True)


class ProductInquiry(db.Model):
    """One customer session's conversation about one product."""

    __tablename__ = "product_inquiries"
    __table_args__ = (
        # Response metrics over a period (all sites, or one site's products):
        # covering, so a 90-day page reads the index, not the rows.
        sa.Index("idx_created_metrics", "created_at", "first_response_seconds", "rating", "product_id"),
        sa.Index("idx_product_created_metrics", "product_id", "created_at", "first_response_seconds", "rating"),
        # One conversation per product per browser session, even when two
        # first messages race.
        sa.UniqueConstraint("product_id", "session_id", name="uq_inquiry_product_session"),
        # The admin list: filter by status, then walk the queue in key order.
        sa.Index("idx_status_queue", "status", "queue_key"),
        sa.Index("idx_assignee_queue", "assigned_admin_id", "queue_key"),
        sa.Index("idx_queue", "queue_key"),
        sa.Index("idx_product_status_queue", "product_id", "status", "queue_key"),
        # One product's queue with every status (its "waiting" view, a search by product name).
        sa.Index("idx_product_queue", "product_id", "queue_key"),
        # The tab title's waiting count, and the customer's other inquiries.
        sa.Index("idx_status_waiting", "status", "waiting_since"),
        sa.Index("idx_session", "session_id"),
        sa.Index("idx_customer_email", "customer_email"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    product_id = sa.Column(sa.Integer, sa.ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    session_id = sa.Column(sa.String(255), nullable=False)
    customer_email = sa.Column(sa.String(255))
    # When the customer agreed to be emailed; no consent, no email.
    email_consent_at = sa.Column(Timestamp)
    status = sa.Column(
        sa.Enum(*INQUIRY_STATUSES, name="inquiry_status"),
        nullable=False,
        default="pending",
        server_default="pending",
    )
    priority = sa.Column(
        sa.Enum(*PRIORITIES, name="inquiry_priority"),
        nullable=False,
        default="medium",
        server_default="medium",
    )
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    updated_at = sa.Column(Timestamp, nullable=False, default=utcnow, onupdate=utcnow)
    assigned_admin_id = sa.Column(sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"))
    # Denormalized for the admin list (kept by the service layer):
    last_message_at = sa.Column(Timestamp)
    # When the oldest customer message still without an answer came in.
    waiting_since = sa.Column(Timestamp)
    # The newest message (any kind; the newest a customer sees): a live message event names
    # the one before it, so a stream that showed that one renders the event without a read.
    last_message_id = sa.Column(sa.Integer)
    last_public_message_id = sa.Column(sa.Integer)
    # The admin list's counts: every message, and the customer's not read yet (kept by the
    # service layer with each message and read mark: a live list row carries them, no COUNT).
    message_count = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    unread_count = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    # Counts the changes of what the inquiry page's controls show, in commit order: a page
    # gets each change twice (its own POST's answer and its stream), in either order, and
    # keeps the newer (static/js/admin.js).
    controls_version = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    # One sortable string: waiting first, then most urgent, then longest
    # waiting (or, once answered, most recent); the id breaks ties. Keyset
    # pagination walks it with a single indexed comparison.
    queue_key = sa.Column(sa.String(40), nullable=False, default="", server_default="")
    # The waiting period an "unanswered" email was sent for (never twice).
    notified_waiting_since = sa.Column(Timestamp)
    # The first answer: when, and after how many seconds of business hours (metrics).
    first_response_at = sa.Column(Timestamp)
    first_response_seconds = sa.Column(sa.Integer)
    # The customer's rating once the shop marked it answered.
    rating = sa.Column(sa.Enum(*RATINGS, name="inquiry_rating"))
    rating_comment = sa.Column(sa.Text)
    rated_at = sa.Column(Timestamp)

    PRIORITY_RANK = {"high": 3, "medium": 2, "low": 1}

    def refresh_queue_key(self):
        rank = self.PRIORITY_RANK.get(self.priority or "medium", 2)
        if self.waiting_since is not None:
            stamp = int(self.waiting_since.replace(tzinfo=UTC).timestamp() * 1_000_000)
            head = f"0{3 - rank}{stamp:017d}"
        else:
            last = self.last_message_at or self.created_at or utcnow()
            stamp = int(last.replace(tzinfo=UTC).timestamp() * 1_000_000)
            head = f"1{3 - rank}{10**17 - stamp:017d}"
        self.queue_key = f"{head}{self.id or 0:010d}"
        return self.queue_key

    product = db.relationship("Product", lazy="joined")
    assigned_admin = db.relationship("User")
    messages = db.relationship(
        "ProductMessage",
        back_populates="inquiry",
        passive_deletes=True,
        order_by="ProductMessage.id",
        lazy="dynamic",
    )

    def __repr__(self):
        return f"<ProductInquiry {self.id} product={self.product_id}>"


class ProductMessage(db.Model):
    __tablename__ = "product_messages"
    __table_args__ = (
        sa.Index("idx_inquiry_created", "inquiry_id", "created_at"),
        sa.Index("idx_unread", "is_read", "created_at"),
        # Pages of a conversation walk the ids of one inquiry.
        sa.Index("idx_inquiry_id", "inquiry_id", "id"),
        # A retried send carries the same client id and finds its message.
        sa.UniqueConstraint("inquiry_id", "client_msg_id", name="uq_message_client_id"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    inquiry_id = sa.Column(
        sa.Integer,
        sa.ForeignKey("product_inquiries.id", ondelete="CASCADE"),
        nullable=False,
    )
    sender_type = sa.Column(sa.Enum(*SENDER_TYPES, name="sender_type"), nullable=False)
    sender_id = sa.Column(sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"))
    message_text = sa.Column(sa.Text, nullable=False)
    message_type = sa.Column(
        sa.Enum(*MESSAGE_TYPES, name="message_type"),
        nullable=False,
        default="text",
        server_default="text",
    )
    is_read = sa.Column(sa.Boolean, nullable=False, default=False, server_default=sa.false())
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    # Who may see the row: "public" (both sides) or "internal" (admins only:
    # workflow notes). Every customer-facing query filters on it.
    visibility = sa.Column(
        sa.Enum(*VISIBILITIES, name="message_visibility"), nullable=False, default="public", server_default="public"
    )
    client_msg_id = sa.Column(sa.String(36))
    # For system messages: what changed ("status", "priority", "assignee").
    # Admins only (see visibility), except the friendly line a resolve leaves.
    system_event = sa.Column(sa.String(20))
    # Status marks: delivered when the recipient's stream or fetch got it,
    # read when they viewed it (is_read stays the seed's flag for the same).
    delivered_at = sa.Column(Timestamp)
    read_at = sa.Column(Timestamp)

    @property
    def public_sender_name(self):
        """Who customers see answering: the admin's public name, or the shop's name (never the account)."""
        if self.sender_type != "admin":
            return None
        if self.sender is not None and self.sender.public_name:
            return self.sender.public_name
        return self.inquiry.product.site.name

    @property
    def state(self):
        if self.is_read:
            return "read"
        return "delivered" if self.delivered_at else "sent"

    inquiry = db.relationship("ProductInquiry", back_populates="messages")
    sender = db.relationship("User")
    # Files sent with the message, in the order they were picked (written in the message's transaction).
    attachments = db.relationship(
        "MessageAttachment", order_by="MessageAttachment.position", passive_deletes=True, lazy="selectin"
    )

    def __repr__(self):
        return f"<ProductMessage {self.id} {self.sender_type}>"


class MessageAttachment(db.Model):
    """A file sent with a message: an image (re-encoded, with a thumbnail) or a PDF (as given).

    The bytes live in the attachment storage (chat/storage) under random keys; this row
    is the truth about them. ``filename`` is what the sender's file was called (user
    text: cleaned, shown escaped, never a path). ``inquiry_id`` repeats the message's, so
    access checks and erasure find a conversation's files without a join.
    """

    __tablename__ = "message_attachments"

    id = sa.Column(sa.Integer, primary_key=True)
    message_id = sa.Column(
        sa.Integer, sa.ForeignKey("product_messages.id", ondelete="CASCADE"), nullable=False, index=True
    )
    inquiry_id = sa.Column(
        sa.Integer, sa.ForeignKey("product_inquiries.id", ondelete="CASCADE"), nullable=False, index=True
    )
    position = sa.Column(sa.SmallInteger, nullable=False, default=0)
    storage_key = sa.Column(sa.String(100), nullable=False, unique=True)
    # The same key as storage_key when the image is small enough to be its own thumbnail; None for PDFs.
    thumbnail_key = sa.Column(sa.String(100))
    filename = sa.Column(sa.String(255), nullable=False)
    content_type = sa.Column(sa.String(50), nullable=False)
    size = sa.Column(sa.Integer, nullable=False)
    width = sa.Column(sa.Integer)
    height = sa.Column(sa.Integer)
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow)

    @property
    def is_image(self):
        return self.content_type.startswith("image/")

    def __repr__(self):
        return f"<MessageAttachment {self.id} {self.content_type}>"


# Words are stored folded (lower case, no accents) and compared by code point on
# both databases, so a prefix is an index range with the same meaning everywhere.
SearchWord = sa.String(40).with_variant(mysql.VARCHAR(40, collation="utf8mb4_bin"), "mysql", "mariadb")


class InquiryWord(db.Model):
    """One word that occurs in an inquiry's messages: the admin list's search index.

    Kept per inquiry (not per message) so a search can walk the queue and ask
    "has this inquiry the word?" with one index probe, or start from a rare word's
    few inquiries: both cost about one page, however common the word is (InnoDB's
    FULLTEXT hands over every match first). Written with each message by the
    conversation service (``chat/services/search.py``).
    """

    __tablename__ = "inquiry_words"
    __table_args__ = (sa.Index("idx_word_inquiry", "word", "inquiry_id"),)

    inquiry_id = sa.Column(sa.Integer, sa.ForeignKey("product_inquiries.id", ondelete="CASCADE"), primary_key=True)
    word = sa.Column(SearchWord, primary_key=True)


class PublishedQuestion(db.Model):
    """A question and answer an admin published for a product (edited from an inquiry).

    Public: shown on the product page, on a page of its own, and suggested to
    shoppers while they type. ``withdrawn_at`` hides it everywhere.
    """

    __tablename__ = "published_questions"
    __table_args__ = (sa.Index("idx_question_product", "product_id", "withdrawn_at", "created_at"),)

    id = sa.Column(sa.Integer, primary_key=True)
    product_id = sa.Column(sa.Integer, sa.ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    inquiry_id = sa.Column(sa.Integer, sa.ForeignKey("product_inquiries.id", ondelete="SET NULL"), index=True)
    question = sa.Column(sa.Text, nullable=False)
    answer = sa.Column(sa.Text, nullable=False)
    published_by = sa.Column(sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    updated_at = sa.Column(Timestamp, nullable=False, default=utcnow, onupdate=utcnow)
    withdrawn_at = sa.Column(Timestamp)
    # The language it is written in: its page's JSON-LD inLanguage; shoppers' suggestions prefer theirs.
    language = sa.Column(sa.String(8), nullable=False, default="en", server_default="en")

    product = db.relationship("Product")


class SuggestionView(db.Model):
    """A shopper opened a suggested answer (what admins see, and what the metrics count)."""

    __tablename__ = "suggestion_views"
    __table_args__ = (
        sa.Index("idx_suggestion_session_product", "session_id", "product_id"),
        sa.Index("idx_suggestion_created", "created_at"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    question_id = sa.Column(sa.Integer, sa.ForeignKey("published_questions.id", ondelete="CASCADE"), nullable=False)
    product_id = sa.Column(sa.Integer, sa.ForeignKey("products.id", ondelete="CASCADE"), nullable=False)
    session_id = sa.Column(sa.String(64), nullable=False)
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow)

    question = db.relationship("PublishedQuestion")


class CannedReply(db.Model):
    """A saved answer admins insert with ``/shortcut``; its text may hold placeholders
    such as ``{product}``, ``{price}`` and ``{customer_first_name}``."""

    __tablename__ = "canned_replies"

    id = sa.Column(sa.Integer, primary_key=True)
    title = sa.Column(sa.String(100), nullable=False)
    shortcut = sa.Column(sa.String(40), nullable=False, unique=True)
    body = sa.Column(sa.Text, nullable=False)
    created_by = sa.Column(sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    updated_at = sa.Column(Timestamp, nullable=False, default=utcnow, onupdate=utcnow)


class ApiToken(db.Model):
    """A bearer token an admin created for the JSON admin API (only its hash is kept)."""

    __tablename__ = "api_tokens"

    id = sa.Column(sa.Integer, primary_key=True)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    name = sa.Column(sa.String(100), nullable=False)
    token_hash = sa.Column(sa.String(64), nullable=False, unique=True)
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    last_used_at = sa.Column(Timestamp)

    user = db.relationship("User")


class OutboxEmail(db.Model):
    """Mail waiting to go out. Written in the transaction that causes it; the
    unique dedupe_key means one event can never queue two mails."""

    __tablename__ = "outbox_emails"
    __table_args__ = (sa.Index("idx_outbox_due", "sent_at", "next_attempt_at"),)

    id = sa.Column(sa.Integer, primary_key=True)
    dedupe_key = sa.Column(sa.String(190), nullable=False, unique=True)
    # The inquiry a mail is about (None for digests): erasing or purging the
    # inquiry deletes its mails too, so no text or address outlives it.
    inquiry_id = sa.Column(sa.Integer, sa.ForeignKey("product_inquiries.id", ondelete="CASCADE"), index=True)
    to_addr = sa.Column(sa.String(255), nullable=False)
    subject = sa.Column(sa.String(255), nullable=False)
    body_text = sa.Column(sa.Text, nullable=False)
    body_html = sa.Column(sa.Text)
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    next_attempt_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    attempts = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    last_error = sa.Column(sa.Text)
    claimed_until = sa.Column(Timestamp)
    sent_at = sa.Column(Timestamp)
    failed_at = sa.Column(Timestamp)
    # reply+<token>@MAIL_REPLY_DOMAIN: a reply comes back into the inquiry (chat/services/mail_in.py).
    reply_to = sa.Column(sa.String(255))


class InboundEmail(db.Model):
    """A mail that came in (a reply to one of ours), kept by its Message-ID so each is
    handled once however often it is delivered. No text and no address: what became of it."""

    __tablename__ = "inbound_emails"

    id = sa.Column(sa.Integer, primary_key=True)
    # SHA-256 of the Message-ID (of the whole mail when it has none): Message-IDs may be long.
    message_key = sa.Column(sa.String(64), nullable=False, unique=True)
    outcome = sa.Column(sa.String(20), nullable=False)
    inquiry_id = sa.Column(sa.Integer, sa.ForeignKey("product_inquiries.id", ondelete="SET NULL"), index=True)
    received_at = sa.Column(Timestamp, nullable=False, default=utcnow, index=True)


class AdminPresence(db.Model):
    """Which admin has which inquiry open right now (refreshed by their stream)."""

    __tablename__ = "admin_presence"

    admin_id = sa.Column(sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    inquiry_id = sa.Column(sa.Integer, sa.ForeignKey("product_inquiries.id", ondelete="CASCADE"), primary_key=True)
    seen_at = sa.Column(Timestamp, nullable=False, default=utcnow)

    admin = db.relationship("User")


class WebhookEndpoint(db.Model):
    """A URL a shop's systems receive events at, for one site or (``site_id`` None) every site.

    The secret signs every request (Standard Webhooks); it is kept as given because
    signing needs it, and shown to people only once, when it is made. After a
    rotation the previous secret signs too until ``previous_secret_until``.
    """

    __tablename__ = "webhook_endpoints"

    id = sa.Column(sa.Integer, primary_key=True)
    site_id = sa.Column(sa.Integer, sa.ForeignKey("sites.id", ondelete="CASCADE"), index=True)
    url = sa.Column(sa.String(500), nullable=False)
    # Space-separated names from WEBHOOK_EVENTS.
    events = sa.Column(sa.String(255), nullable=False)
    secret = sa.Column(sa.String(100), nullable=False)
    previous_secret = sa.Column(sa.String(100))
    previous_secret_until = sa.Column(Timestamp)
    created_by = sa.Column(sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    updated_at = sa.Column(Timestamp, nullable=False, default=utcnow, onupdate=utcnow)
    # The first failed attempt since the last success: failing this long disables it.
    failing_since = sa.Column(Timestamp)
    disabled_at = sa.Column(Timestamp)
    disabled_reason = sa.Column(sa.String(255))

    site = db.relationship("Site")

    @property
    def event_list(self):
        return [name for name in (self.events or "").split() if name]

    def __repr__(self):
        return f"<WebhookEndpoint {self.id} {self.url!r}>"


class WebhookDelivery(db.Model):
    """One event for one endpoint: the webhook outbox, written in the transaction of the event.

    ``webhook_id`` is the event's id (the ``webhook-id`` header), the same on every
    attempt. Deliveries with ``ordered`` set go out one at a time per endpoint and
    inquiry, in id order: a later one waits while an earlier one is pending.
    """

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        # What is due: pending, by next attempt.
        sa.Index("idx_webhook_due", "status", "next_attempt_at"),
        # Is an earlier event of this inquiry still pending for this endpoint?
        sa.Index("idx_webhook_chain", "endpoint_id", "inquiry_id", "status", "id"),
        # The endpoint's log, newest first.
        sa.Index("idx_webhook_log", "endpoint_id", "id"),
    )

    id = sa.Column(sa.Integer, primary_key=True)
    endpoint_id = sa.Column(sa.Integer, sa.ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False)
    webhook_id = sa.Column(sa.String(40), nullable=False, index=True)
    event_type = sa.Column(sa.String(40), nullable=False)
    # The inquiry the event is about: its order, and erasing or purging the inquiry
    # deletes the payloads that quote it.
    inquiry_id = sa.Column(sa.Integer, sa.ForeignKey("product_inquiries.id", ondelete="CASCADE"))
    ordered = sa.Column(sa.Boolean, nullable=False, default=True, server_default=sa.true())
    # The exact body sent (and signed), every attempt.
    payload = sa.Column(sa.Text, nullable=False)
    status = sa.Column(
        sa.Enum(*WEBHOOK_DELIVERY_STATES, name="webhook_delivery_status"),
        nullable=False,
        default="pending",
        server_default="pending",
    )
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    next_attempt_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    claimed_until = sa.Column(Timestamp)
    attempts = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    last_status_code = sa.Column(sa.Integer)
    last_response_ms = sa.Column(sa.Integer)
    last_error = sa.Column(sa.String(500))
    delivered_at = sa.Column(Timestamp)
    failed_at = sa.Column(Timestamp)
    # "Redeliver" sends the same event again as a new delivery (outside the order).
    redelivery_of = sa.Column(sa.Integer, sa.ForeignKey("webhook_deliveries.id", ondelete="SET NULL"))

    endpoint = db.relationship("WebhookEndpoint")
    attempt_log = db.relationship(
        "WebhookAttempt", order_by="WebhookAttempt.id", passive_deletes=True, back_populates="delivery"
    )


class WebhookAttempt(db.Model):
    """One request of a delivery: when, the answer's status and time, or what went wrong."""

    __tablename__ = "webhook_attempts"

    id = sa.Column(sa.Integer, primary_key=True)
    delivery_id = sa.Column(
        sa.Integer, sa.ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), nullable=False, index=True
    )
    started_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    status_code = sa.Column(sa.Integer)
    response_ms = sa.Column(sa.Integer)
    error = sa.Column(sa.String(500))

    delivery = db.relationship("WebhookDelivery", back_populates="attempt_log")


class Invitation(db.Model):
    """An invitation to join the team with a role and sites: a signed link, single use,
    valid until ``expires_at`` (only a hash of its random part is kept)."""

    __tablename__ = "invitations"

    id = sa.Column(sa.Integer, primary_key=True)
    email = sa.Column(sa.String(255), nullable=False, index=True)
    role = sa.Column(sa.String(10), nullable=False)
    all_sites = sa.Column(sa.Boolean, nullable=False, default=False)
    # Space-separated site ids (when not all sites).
    site_ids = sa.Column(sa.String(500), nullable=False, default="")
    nonce_hash = sa.Column(sa.String(64), nullable=False, unique=True)
    invited_by = sa.Column(sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"))
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    expires_at = sa.Column(Timestamp, nullable=False)
    accepted_at = sa.Column(Timestamp)
    revoked_at = sa.Column(Timestamp)
    accepted_by = sa.Column(sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"))

    inviter = db.relationship("User", foreign_keys=[invited_by])

    @property
    def site_id_list(self):
        return [int(part) for part in (self.site_ids or "").split() if part.isdigit()]

    @property
    def state(self):
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        return "expired" if self.expires_at <= utcnow() else "pending"


class AuditEntry(db.Model):
    """One security-relevant action: who (a person, an API token or the CLI), what, on which
    object, from where, when. Append-only: no route changes or deletes a row; only
    ``flask chat purge`` removes rows older than AUDIT_RETENTION_DAYS. Never message text,
    passwords, keys or secrets."""

    __tablename__ = "audit_log"
    __table_args__ = (sa.Index("idx_audit_action_created", "action", "created_at"),)

    id = sa.Column(sa.Integer, primary_key=True)
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow, index=True)
    # "person", "token", "cli" or "anonymous" (a failed login).
    actor_kind = sa.Column(sa.String(10), nullable=False)
    actor_id = sa.Column(sa.Integer, sa.ForeignKey("users.id", ondelete="SET NULL"), index=True)
    # The person's email, "token <name> of <email>", "cli", or the address a failed login tried.
    actor_label = sa.Column(sa.String(255), nullable=False, default="")
    action = sa.Column(sa.String(50), nullable=False)
    object_type = sa.Column(sa.String(30))
    object_id = sa.Column(sa.String(64))
    detail = sa.Column(sa.String(500), nullable=False, default="")
    ip = sa.Column(sa.String(45))
    user_agent = sa.Column(sa.String(200))


# What a push subscription may be told about (chat/services/push.py).
PUSH_EVENTS = ("new_question", "customer_message")
PUSH_DELIVERY_STATES = ("pending", "delivered", "failed")


class PushSubscription(db.Model):
    """A browser's Web Push subscription, made in one admin session on one device.

    It belongs to that session: ending the session (logout, log out everywhere,
    deactivation, a password change) deletes the row (``ON DELETE CASCADE``), so
    a device nobody is logged in on is never pushed. ``endpoint`` is the push
    service's URL; ``p256dh`` and ``auth`` the browser's keys (RFC 8291).
    """

    __tablename__ = "push_subscriptions"

    id = sa.Column(sa.Integer, primary_key=True)
    user_id = sa.Column(sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True)
    admin_session_id = sa.Column(
        sa.Integer, sa.ForeignKey("admin_sessions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    # SHA-256 of the endpoint: one row per browser subscription (endpoints may be long).
    endpoint_hash = sa.Column(sa.String(64), nullable=False, unique=True)
    endpoint = sa.Column(sa.Text, nullable=False)
    p256dh = sa.Column(sa.String(200), nullable=False)
    auth = sa.Column(sa.String(50), nullable=False)
    # The device's "Show message text in notifications": off, only the product is named.
    show_text = sa.Column(sa.Boolean, nullable=False, default=False, server_default=sa.false())
    user_agent = sa.Column(sa.String(200))
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    last_pushed_at = sa.Column(Timestamp)

    user = db.relationship("User")


class PushPreference(db.Model):
    """An admin's choices for pushes to their devices: which events, and quiet hours
    (local times of the inquiry's site; start after end spans midnight)."""

    __tablename__ = "push_preferences"

    user_id = sa.Column(sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    # Space-separated names from PUSH_EVENTS.
    events = sa.Column(sa.String(100), nullable=False, default=" ".join(PUSH_EVENTS))
    # Minutes after local midnight; both None: no quiet hours.
    quiet_start = sa.Column(sa.SmallInteger)
    quiet_end = sa.Column(sa.SmallInteger)

    @property
    def event_list(self):
        return [name for name in (self.events or "").split() if name]


class PushDelivery(db.Model):
    """One push for one subscription: the push outbox, written in the transaction of the event.

    ``payload`` is the JSON the service worker receives (encrypted only when sent);
    it is emptied once the push is delivered or given up, and erasing the inquiry
    deletes the row, so no customer text outlives either.
    """

    __tablename__ = "push_deliveries"
    __table_args__ = (sa.Index("idx_push_due", "status", "next_attempt_at"),)

    id = sa.Column(sa.Integer, primary_key=True)
    subscription_id = sa.Column(
        sa.Integer, sa.ForeignKey("push_subscriptions.id", ondelete="CASCADE"), nullable=False, index=True
    )
    inquiry_id = sa.Column(sa.Integer, sa.ForeignKey("product_inquiries.id", ondelete="CASCADE"), index=True)
    message_id = sa.Column(sa.Integer)
    event = sa.Column(sa.String(30), nullable=False)
    urgent = sa.Column(sa.Boolean, nullable=False, default=False, server_default=sa.false())
    payload = sa.Column(sa.Text, nullable=False)
    status = sa.Column(
        sa.Enum(*PUSH_DELIVERY_STATES, name="push_delivery_status"),
        nullable=False,
        default="pending",
        server_default="pending",
    )
    created_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    next_attempt_at = sa.Column(Timestamp, nullable=False, default=utcnow)
    claimed_until = sa.Column(Timestamp)
    attempts = sa.Column(sa.Integer, nullable=False, default=0, server_default="0")
    last_status_code = sa.Column(sa.Integer)
    last_error = sa.Column(sa.String(500))
    sent_at = sa.Column(Timestamp)

    subscription = db.relationship("PushSubscription")
