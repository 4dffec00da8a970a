"""Product Q&A: questions and answers an admin publishes from an inquiry, and the
suggestions shoppers get from them while they type.

Only ``PublishedQuestion`` rows are ever public, and only while not withdrawn:
the text is what the admin wrote into the publish form (prefilled from the
conversation, edited first), never a message read from the chat. One inquiry
may publish several entries (a conversation can hold more than one question).
"""

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext, lazy_gettext

from ..extensions import db
from ..i18n import SHOPPER_LANGUAGES, site_languages
from ..models import ProductMessage, PublishedQuestion, SuggestionView, utcnow
from . import conversations, search, shoppers, webhook_events
from .errors import NotFound, ValidationError
from .validation import clean_text, parse_id

QUESTION_MAX = 1000
ANSWER_MAX = 5000
SUGGESTIONS = 3
PRODUCT_PAGE = 50
# Words that match nearly every question: left out of suggestion searches (MariaDB's
# InnoDB list drops most of them anyway; SQLite's FTS5 has no stopwords).
STOPWORDS = frozenset(
    """a an and are as at be but by can could do does for from has have how i if in is it its
me my no not of on or our so than that the their them there these they this to too us was we what when where which
who why will with would you your yes hi hello please thanks thank""".split()
)


@dataclass
class ProductQuestions:
    items: list
    count: int


LABELS = {"question": lazy_gettext("Question"), "answer": lazy_gettext("Answer")}


def _texts(question, answer):
    """Both texts checked at once, so a 422 names every bad field."""
    fields, cleaned = {}, {}
    for name, value, limit in (("question", question, QUESTION_MAX), ("answer", answer, ANSWER_MAX)):
        try:
            text = clean_text(value, name, limit, what=LABELS[name])
            cleaned[name] = text.replace("\r\n", "\n").replace("\r", "\n").strip()
        except ValidationError as error:
            fields.update(error.fields)
    if fields:
        raise ValidationError(gettext("Please check the %(fields)s.", fields=gettext(" and the ").join(fields)), fields)
    return cleaned["question"], cleaned["answer"]


def language_of(inquiry):
    """The language a Q&A from this inquiry is written in unless the admin says: the one
    its shopper chatted in, else the site's default."""
    shopper = shoppers.find(inquiry.session_id)
    if shopper is not None and shopper.language in SHOPPER_LANGUAGES:
        return shopper.language
    return site_languages(inquiry.product.site)["default"]


def _language(value, inquiry):
    if value is None or value == "":
        return language_of(inquiry)
    if value not in SHOPPER_LANGUAGES:
        codes = ", ".join(SHOPPER_LANGUAGES)
        raise ValidationError(
            gettext("The language must be one of %(codes)s.", codes=codes),
            {"language": gettext("one of %(codes)s", codes=codes)},
        )
    return value


def publish(inquiry_id, admin, question, answer, language=None):
    """Publish a question and answer about the inquiry's product (as the admin edited them),
    in ``language`` (default: the one its shopper chatted in)."""
    inquiry = conversations.get_inquiry(inquiry_id)
    question, answer = _texts(question, answer)
    entry = PublishedQuestion(
        product_id=inquiry.product_id,
        inquiry_id=inquiry.id,
        question=question,
        answer=answer,
        language=_language(language, inquiry),
        published_by=admin.id if admin else None,
    )
    db.session.add(entry)
    db.session.flush()
    webhook_events.question_published(entry)
    db.session.commit()
    return entry


def get(question_id):
    """A published (not withdrawn) entry, or a 404."""
    entry = db.session.get(PublishedQuestion, question_id)
    if entry is None or entry.withdrawn_at is not None:
        raise NotFound(gettext("No such published question."), {"question_id": gettext("unknown or withdrawn")})
    return entry


def get_for_product(product_id, question_id):
    entry = get(question_id)
    if entry.product_id != product_id:
        raise NotFound(gettext("No such published question."), {"question_id": gettext("unknown or withdrawn")})
    return entry


def edit(question_id, question, answer):
    entry = get(question_id)
    entry.question, entry.answer = _texts(question, answer)
    db.session.commit()
    return entry


def withdraw(question_id):
    """Hide an entry everywhere (product page, its own page, suggestions, API); kept for the record."""
    entry = get(question_id)
    entry.withdrawn_at = utcnow()
    db.session.commit()
    return entry


def _published():
    return sa.select(PublishedQuestion).where(PublishedQuestion.withdrawn_at.is_(None))


def of_inquiry(inquiry_id):
    """The entries published from an inquiry, oldest first (the admin's inquiry page)."""
    return db.session.scalars(
        _published().where(PublishedQuestion.inquiry_id == inquiry_id).order_by(PublishedQuestion.id)
    ).all()


def for_product(product_id, limit=PRODUCT_PAGE):
    """A product's published entries, newest first, with how many there are."""
    items = db.session.scalars(
        _published()
        .where(PublishedQuestion.product_id == product_id)
        .order_by(PublishedQuestion.created_at.desc(), PublishedQuestion.id.desc())
        .limit(limit)
    ).all()
    total = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(PublishedQuestion)
        .where(PublishedQuestion.product_id == product_id, PublishedQuestion.withdrawn_at.is_(None))
    )
    return ProductQuestions(items, total)


def suggest(product_id, text, limit=SUGGESTIONS, language=None):
    """Published entries of the product that match what the shopper typed, best first
    (those in the shopper's ``language`` before the others).

    Any word counts (a shopper types whole sentences), common words do not.
    Only the published table is searched: chat messages never reach here.
    """
    if not isinstance(text, str):
        return []
    best_first = search.ranked("published_questions", text[:200], skip=STOPWORDS)
    if best_first is None:
        return []
    statement = _published().where(PublishedQuestion.product_id == product_id)
    if language:
        statement = statement.order_by(sa.case((PublishedQuestion.language == language, 0), else_=1))
    return db.session.scalars(best_first(statement).order_by(PublishedQuestion.id.desc()).limit(limit)).all()


def record_view(question_id, session_id):
    """A shopper opened a suggestion: their session and the product, for the admin to see."""
    entry = get(parse_id(question_id, "question_id"))
    view = SuggestionView(question_id=entry.id, product_id=entry.product_id, session_id=session_id)
    db.session.add(view)
    db.session.commit()
    return view


def views_for(inquiry):
    """Which suggestions the inquiry's shopper opened about its product, oldest first (withdrawn ones too)."""
    return db.session.scalars(
        sa.select(SuggestionView)
        .where(SuggestionView.session_id == inquiry.session_id, SuggestionView.product_id == inquiry.product_id)
        .order_by(SuggestionView.id)
    ).all()


def prefill(inquiry):
    """The publish form's starting text: the customer's messages and the shop's answers
    (public text only, never notes), for the admin to edit down to what may be public."""
    rows = db.session.execute(
        sa.select(ProductMessage.sender_type, ProductMessage.message_text)
        .where(
            ProductMessage.inquiry_id == inquiry.id,
            ProductMessage.message_type == "text",
            ProductMessage.visibility == "public",
        )
        .order_by(ProductMessage.id)
        .limit(200)
    ).all()
    question = "\n\n".join(text for sender, text in rows if sender == "customer")
    answer = "\n\n".join(text for sender, text in rows if sender == "admin")
    return question[:QUESTION_MAX], answer[:ANSWER_MAX]
