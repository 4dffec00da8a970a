"""The checked-in migrations build exactly the models' schema, on each backend."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import upgrade

from chat import create_app
from chat.extensions import db
from config import TestingConfig

from . import backends


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
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        tables = set(db.inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert diff == []
    assert {"products", "users", "product_inquiries", "product_messages"} <= tables


def test_cascades_follow_the_seed(app):
    from chat.models import Product, ProductInquiry, ProductMessage, User

    with app.app_context():
        admin = User(email="a@x.example", name="A", password_hash="x")
        product = Product(name="P", price=1)
        db.session.add_all([admin, product])
        db.session.flush()
        inquiry = ProductInquiry(product_id=product.id, session_id="s", assigned_admin_id=admin.id)
        db.session.add(inquiry)
        db.session.flush()
        db.session.add(ProductMessage(inquiry_id=inquiry.id, sender_type="admin", sender_id=admin.id, message_text="hi"))
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
