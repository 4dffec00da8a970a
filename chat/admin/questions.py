"""Publishing product Q&A from the inquiry page: the "Publish as Q&A" card (prefilled,
edited before it goes public), edit and withdraw, and the suggestions the shopper opened.

Forms post normally (redirect back to the inquiry) or through HTMX (the card re-renders).
"""

from dataclasses import dataclass

from flask import flash, redirect, request, url_for
from flask_login import current_user

from ..htmx import is_htmx, render_fragment
from ..services import ValidationError, conversations, questions
from . import bp


@dataclass
class QuestionsCard:
    inquiry: object
    published: list
    views: list
    question: str
    answer: str


def card_for(inquiry, question=None, answer=None, prefilled=False):
    published = questions.of_inquiry(inquiry.id)
    if question is None:
        # Prefilled only while nothing is published from it; then it starts empty for a second one.
        question, answer = questions.prefill(inquiry) if prefilled and not published else ("", "")
    return QuestionsCard(inquiry, published, questions.views_for(inquiry), question, answer)


@bp.context_processor
def inquiry_questions():
    """``questions_card(inquiry)`` for templates/admin/_questions.html; ``qa_language(inquiry)``:
    the language its publish form starts with (the one the shopper chatted in)."""
    return {"questions_card": card_for, "qa_language": questions.language_of}


def _back(inquiry, card=None, error=None, status=200, anchor="qa-card"):
    if is_htmx():
        return render_fragment("admin/_questions.html", card=card or card_for(inquiry), error=error, status=status)
    if error is not None:
        flash(error.message)
    return redirect(url_for("admin.inquiry_page", inquiry_id=inquiry.id, _anchor=anchor))


@bp.get("/inquiries/<id:inquiry_id>/questions/new")
def publish_form(inquiry_id):
    """The publish form, prefilled from the conversation (loaded when the admin opens it)."""
    card = card_for(conversations.get_inquiry(inquiry_id), prefilled=True)
    return render_fragment("admin/_publish_form.html", card=card, qa_inquiry=card.inquiry)


@bp.post("/inquiries/<id:inquiry_id>/questions")
def publish_question(inquiry_id):
    """Publish the edited question and answer about this inquiry's product."""
    inquiry = conversations.get_inquiry(inquiry_id)
    question, answer = request.form.get("question", ""), request.form.get("answer", "")
    try:
        questions.publish(inquiry.id, current_user, question, answer, language=request.form.get("language"))
    except ValidationError as error:
        # The admin's text stays in the form, with what is wrong.
        return _back(inquiry, card_for(inquiry, question, answer), error, status=error.status)
    return _back(inquiry)


@bp.post("/questions/<id:question_id>")
def edit_question(question_id):
    """Save both texts of a published entry."""
    entry = questions.get(question_id)
    inquiry = conversations.get_inquiry(entry.inquiry_id) if entry.inquiry_id else None
    try:
        questions.edit(entry.id, request.form.get("question", ""), request.form.get("answer", ""))
    except ValidationError as error:
        if inquiry is None:
            raise
        return _back(inquiry, error=error, status=error.status)
    if inquiry is None:
        return redirect(url_for("storefront.question_page", product_id=entry.product_id, question_id=entry.id))
    return _back(inquiry)


@bp.post("/questions/<id:question_id>/withdraw")
def withdraw_question(question_id):
    """Withdraw an entry: gone from the product page, its page, suggestions and the API."""
    entry = questions.withdraw(question_id)
    if entry.inquiry_id is None:
        return redirect(url_for("admin.inquiries"))
    return _back(conversations.get_inquiry(entry.inquiry_id))
