import sqlalchemy as sa

from chat.extensions import db
from chat.models import Product, User


def _rows(app):
    with app.app_context():
        products = db.session.execute(
            sa.select(Product.id, Product.name, Product.price, Product.stock).order_by(Product.id)
        ).all()
        users = db.session.execute(sa.select(User.id, User.email, User.password_hash)).all()
    return products, users


def test_seed_demo_twice_gives_the_same_rows(app, runner):
    first = runner.invoke(args=["chat", "seed-demo"])
    assert first.exit_code == 0, first.output
    assert "Admin login: admin@example.com / " in first.output
    before = _rows(app)
    second = runner.invoke(args=["chat", "seed-demo"])
    assert second.exit_code == 0, second.output
    assert _rows(app) == before
    assert len(before[0]) == 12 and len(before[1]) == 2  # the owner and the demo agent
    # The printed password is the one that logs in.
    password = first.output.split("Admin login: admin@example.com / ")[1].split()[0]
    with app.app_context():
        admin = db.session.scalar(sa.select(User))
        assert admin.check_password(password)
        assert admin.password_hash != password


def test_create_admin_with_password_option(app, runner):
    result = runner.invoke(args=["chat", "create-admin", "Ann@Shop.example", "--password", "s3cret-pass"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = db.session.scalar(sa.select(User).filter_by(email="ann@shop.example"))
        assert user.check_password("s3cret-pass")
        assert not user.check_password("wrong")


def test_create_admin_prompts_for_password(app, runner):
    result = runner.invoke(args=["chat", "create-admin", "bo@shop.example"], input="longpassword\nlongpassword\n")
    assert result.exit_code == 0, result.output
    with app.app_context():
        assert db.session.scalar(sa.select(User).filter_by(email="bo@shop.example")).check_password("longpassword")


def test_create_admin_refuses_short_password_and_stores_nothing(app, runner):
    result = runner.invoke(args=["chat", "create-admin", "cy@shop.example", "--password", "short"])
    assert result.exit_code != 0
    with app.app_context():
        assert db.session.scalar(sa.select(sa.func.count()).select_from(User)) == 0
