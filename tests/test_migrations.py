"""The checked-in migrations build exactly the models' schema, on each backend."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from chat import create_app
from chat.extensions import db
from config import TestingConfig

from . import backends
from .chat_helpers import make_product


@pytest.fixture(params=["sqlite", pytest.param("mariadb", marks=pytest.mark.mariadb)])
def empty_database_url(request, tmp_path):
    if request.param == "sqlite":
        yield "sqlite:///" + str(tmp_path / "migrated.sqlite")
        return
    backends.require("mariadb")
    name, url = backends.create_mysql_database()
    yield url
    backends.drop_mysql_database(name)


def test_upgrade_builds_the_models_schema(empty_database_url):
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = empty_database_url

    app = create_app(Config)
    with app.app_context():
        upgrade()
        with db.engine.connect() as conn:
            from chat.services.search import is_search_object

            context = MigrationContext.configure(
                conn,
                opts={
                    "compare_type": True,
                    "include_name": lambda name, type_, parents: not is_search_object(name, type_),
                },
            )
            diff = compare_metadata(context, db.metadata)
        tables = set(db.inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert diff == []
    assert {"products", "users", "product_inquiries", "product_messages"} <= tables


def test_cascades_follow_the_seed(app):
    from chat.models import Product, ProductInquiry, ProductMessage, User

    with app.app_context():
        admin = User(email="a@x.example", name="A", password_hash="x")
        product = make_product(name="P", price=1)
        db.session.add(admin)
        db.session.flush()
        inquiry = ProductInquiry(product_id=product.id, session_id="s", assigned_admin_id=admin.id)
        db.session.add(inquiry)
        db.session.flush()
        db.session.add(
            ProductMessage(inquiry_id=inquiry.id, sender_type="admin", sender_id=admin.id, message_text="hi")
        )
        db.session.commit()
        # Deleting an admin keeps the conversation, nulling the references.
        db.session.execute(db.delete(User).where(User.id == admin.id))
        db.session.commit()
        db.session.expire_all()
        assert db.session.get(ProductInquiry, inquiry.id).assigned_admin_id is None
        assert db.session.scalar(db.select(ProductMessage.sender_id)) is None
        # Deleting a product removes its inquiries and their messages.
        db.session.execute(db.delete(Product).where(Product.id == product.id))
        db.session.commit()
        assert db.session.scalar(db.select(db.func.count()).select_from(ProductMessage)) == 0
        assert db.session.scalar(db.select(db.func.count()).select_from(ProductInquiry)) == 0


def test_upgrading_keeps_every_conversation(empty_database_url):
    """Rebuilding `products` (SQLite batch mode) must not cascade-delete inquiries."""

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = empty_database_url

    app = create_app(Config)
    with app.app_context():
        upgrade(revision="04ce1c33ca70")
        with db.engine.begin() as conn:
            conn.execute(
                db.text(
                    "INSERT INTO products (id, name, description, price, currency, stock, created_at, "
                    "updated_at) VALUES (7, 'Lamp', '', 59, 'EUR', 3, '2026-01-01', '2026-01-01')"
                )
            )
            conn.execute(
                db.text(
                    "INSERT INTO product_inquiries (id, product_id, session_id, customer_email, "
                    "email_consent_at, status, priority, created_at, updated_at, queue_key) VALUES "
                    "(1, 7, 'sess-one-xxxxxxxxxxxxxxxx', 'a@b.example', '2026-01-01', 'resolved', "
                    "'medium', '2026-01-01', '2026-01-01', 'k')"
                )
            )
            conn.execute(
                db.text(
                    "INSERT INTO product_messages (inquiry_id, sender_type, message_text, message_type, "
                    "is_read, created_at, system_event) VALUES (1, 'customer', 'hello', 'text', 0, "
                    "'2026-01-01', NULL), (1, 'admin', 'Marked resolved by Ann', 'system', 0, "
                    "'2026-01-02', 'status')"
                )
            )
        upgrade()
        with db.engine.connect() as conn:
            product = conn.execute(
                db.text("SELECT s.public_id, p.external_id FROM products p JOIN sites s ON s.id = p.site_id")
            ).one()
            messages = conn.execute(db.text("SELECT message_text, visibility FROM product_messages ORDER BY id")).all()
            shopper = conn.execute(db.text("SELECT session_id, email FROM shoppers")).one()
            words = conn.execute(db.text("SELECT word FROM inquiry_words WHERE inquiry_id = 1")).scalars().all()
            counts = conn.execute(db.text("SELECT message_count, unread_count FROM product_inquiries")).one()
        db.engine.dispose()
    assert tuple(product) == ("demo", "7")
    # The conversation survived; the workflow note became admins-only.
    assert [tuple(m) for m in messages] == [("hello", "public"), ("Marked resolved by Ann", "internal")]
    assert tuple(shopper) == ("sess-one-xxxxxxxxxxxxxxxx", "a@b.example")
    # Its words are in the search index.
    assert sorted(words) == ["ann", "by", "hello", "marked", "resolved"]
    # The list's counts, as it counted them: every message; the customer's unread.
    assert tuple(counts) == (2, 1)


def test_upgrading_refuses_the_tokens_verified_customers_held_before(empty_database_url):
    """Before, a verified customer's session could be one an anonymous token (or a resume link)
    also held; the upgrade refuses every token issued so far for verified customers only."""

    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = empty_database_url

    app = create_app(Config)
    with app.app_context():
        upgrade(revision="7b1f0e3a9c22")
        with db.engine.begin() as conn:
            conn.execute(
                db.text(
                    "INSERT INTO shoppers (session_id, external_id, created_at) VALUES "
                    "('verified-xxxxxxxxxxxxxxxxxxx', 'c-17', '2026-01-01'), "
                    "('anonymous-xxxxxxxxxxxxxxxxxx', NULL, '2026-01-01')"
                )
            )
        upgrade()
        with db.engine.connect() as conn:
            rows = dict(conn.execute(db.text("SELECT session_id, tokens_valid_after FROM shoppers")).all())
        db.engine.dispose()
    assert rows["verified-xxxxxxxxxxxxxxxxxxx"] is not None
    assert rows["anonymous-xxxxxxxxxxxxxxxxxx"] is None


def test_upgrading_makes_existing_admins_owners_of_every_site(empty_database_url):
    class Config(TestingConfig):
        SQLALCHEMY_DATABASE_URI = empty_database_url

    app = create_app(Config)
    with app.app_context():
        upgrade(revision="7c2e9a4b5d10")
        with db.engine.begin() as conn:
            conn.execute(
                db.text(
                    "INSERT INTO users (email, name, password_hash, is_active, created_at) "
                    "VALUES ('old@shop.example', 'Old', 'x', 1, '2026-01-01')"
                )
            )
        upgrade()
        with db.engine.connect() as conn:
            row = conn.execute(db.text("SELECT role, all_sites FROM users")).one()
        db.engine.dispose()
    assert (row[0], bool(row[1])) == ("owner", True)
