"""The admin list's text search: full-text over messages (FTS5 / FULLTEXT), one service function."""
import sqlalchemy as sa

from chat.extensions import db
from chat.models import User
from chat.services import conversations, inquiries, privacy, shoppers

from .chat_helpers import first_product_id, make_inquiry


def _found(app, q, status="all"):
    with app.app_context():
        admin = db.session.scalar(sa.select(User))
        page = inquiries.list_inquiries(inquiries.Filters.parse({"status": status, "q": q}), admin)
        return {row.inquiry.id for row in page.rows}


def test_search_finds_words_in_any_message_by_prefix(app, demo):
    pid = first_product_id(app)
    waterproof = make_inquiry(app, pid, "Is the rain cover waterproof in heavy storms?")
    warranty = make_inquiry(app, pid + 1, "How long is the warranty on the grinder?")
    with app.app_context():
        conversations.add_admin_message(warranty, "Two years, covering the motor.")
    assert _found(app, "waterproof") == {waterproof}
    assert _found(app, "WATERPROOF storms") == {waterproof}  # every word, any case
    assert _found(app, "waterpr") == {waterproof}  # words match as prefixes
    assert _found(app, "motor") == {warranty}  # the shop's answers too
    assert _found(app, "waterproof motor") == set()
    assert _found(app, "Aeropress") == {warranty}  # the product's name
    assert _found(app, "nothing-like-this") == set()


def test_search_input_is_words_only(app, demo):
    pid = first_product_id(app)
    hit = make_inquiry(app, pid, "cover for rain")
    for hostile in ('"cover', "cover*", "+cover -rain", "cover)", "NEAR(cover rain)", "cover OR", "' OR 1=1 --",
                    "%", "_", "\\"):
        found = _found(app, hostile)
        assert found <= {hit}  # never an error, never everything by accident
    assert _found(app, "%") == set() and _found(app, "_") == set()


def test_search_follows_erasure_and_email_prefix(app, demo):
    pid = first_product_id(app)
    session = "s" * 30
    inquiry_id = make_inquiry(app, pid, "a private question about zippers", session)
    with app.app_context():
        shoppers.set_email(session, "zoe@example.com", True)
    assert _found(app, "zippers") == {inquiry_id} and _found(app, "zoe@exa") == {inquiry_id}
    with app.app_context():
        privacy.erase(privacy.find_customer(inquiry_id=inquiry_id))
    assert _found(app, "zippers") == set()
    # The index holds no text of erased messages either (SQLite's FTS5 table is checked directly).
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            assert db.session.execute(sa.text(
                "SELECT count(*) FROM product_messages_fts WHERE product_messages_fts MATCH 'zippers'")).scalar() == 0
