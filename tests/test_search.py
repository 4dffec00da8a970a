"""The admin list's text search: our word index over each inquiry's messages, one service function."""

import sqlalchemy as sa

from chat.extensions import db
from chat.models import InquiryWord, User
from chat.services import conversations, inquiries, privacy, search, shoppers

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
    for hostile in (
        '"cover',
        "cover*",
        "+cover -rain",
        "cover)",
        "NEAR(cover rain)",
        "cover OR",
        "' OR 1=1 --",
        "%",
        "_",
        "\\",
    ):
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
    # The index holds no word of erased messages either.
    with app.app_context():
        assert (
            db.session.scalar(
                sa.select(sa.func.count()).select_from(InquiryWord).where(InquiryWord.inquiry_id == inquiry_id)
            )
            == 0
        )


def test_search_folds_case_and_accents_and_finds_words_across_a_conversation(app, demo):
    pid = first_product_id(app)
    cafe = make_inquiry(app, pid, "Is the CAFÉ crème grinder quiet?")
    with app.app_context():
        conversations.add_admin_message(cafe, "Quiet enough for a flat, yes.")
    assert _found(app, "cafe") == {cafe} and _found(app, "Crème") == {cafe}
    # Every word is required, and an answer may hold one of them: the conversation is found.
    assert _found(app, "grinder flat") == {cafe}
    assert _found(app, "grinder balcony") == set()


def test_a_common_word_and_a_rare_one_find_the_same_page(app, demo, monkeypatch):
    """Common words walk the queue, rare ones start from their inquiries: same rows either way."""
    pid = first_product_id(app)
    with_both = [make_inquiry(app, pid + n % 3, f"Question {n} about the hinge") for n in range(6)]
    make_inquiry(app, pid, "Nothing in common here")
    with app.app_context():
        conversations.add_admin_message(with_both[2], "The hinge is brass.")
    for rare in (search.RARE, 1):  # 1: every word counts as common
        monkeypatch.setattr(search, "RARE", rare)
        assert _found(app, "hinge") == set(with_both)
        assert _found(app, "hinge brass") == {with_both[2]}
        with app.app_context():
            admin = db.session.scalar(sa.select(User))
            filters = inquiries.Filters.parse({"status": "all", "q": "hinge"})
            first = inquiries.list_inquiries(filters, admin, limit=4)
            rest = inquiries.list_inquiries(filters, admin, after=first.next_after, limit=4)
            # Pages follow the queue and neither repeat nor skip.
            assert [r.inquiry.queue_key for r in first.rows] == sorted(r.inquiry.queue_key for r in first.rows)
            assert {r.inquiry.id for r in first.rows + rest.rows} == set(with_both)
            assert len(first.rows) == 4 and rest.next_after is None


def test_words_common_alone_but_rare_together_search_on_page_by_page(app, demo, admin, monkeypatch):
    """A page of a search by common words looks at a bounded part of the queue; the
    admin is told so and "Search older conversations" goes on to the match."""
    client, token, _ = admin
    monkeypatch.setattr(search, "RARE", 1)  # every word counts as common: the queue is walked
    monkeypatch.setattr(search, "WINDOWS", (2, 3))  # 5 rows per page
    pid = first_product_id(app)
    for n in range(8):
        make_inquiry(app, pid, "A question about the hinge" if n % 2 else "A question about the zipper")
    both = make_inquiry(app, pid, "Does the hinge fit the zipper?")  # last in the queue
    html = client.get("/admin?status=all&q=hinge+zipper").get_data(as_text=True)
    assert "None of the most recent conversations match" in html and "Search older conversations" in html
    seen, after, pages = [], None, 0
    with app.app_context():
        admin_user = db.session.scalar(sa.select(User))
        filters = inquiries.Filters.parse({"status": "all", "q": "hinge zipper"})
        while True:
            page = inquiries.list_inquiries(filters, admin_user, after=after)
            pages += 1
            seen += [row.inquiry.id for row in page.rows]
            if page.next_after is None:
                break
            assert page.partial and page.rows == [] and pages < 5
            after = page.next_after
    assert seen == [both] and pages == 2
