"""Product Q&A as JSON: admins publish, edit and withdraw (on the admin API's blueprint,
so its bearer-token and CSRF checks apply); anyone reads a product's published
questions and the suggestions for a text (no login, no session)."""

from flask import Blueprint, jsonify, request

from .. import i18n, links
from ..inputs import field, json_object
from ..services import conversations, questions
from . import cors
from .admin import bp as admin_bp
from .admin import current_admin
from .serializers import iso

bp = Blueprint("questions", __name__)
bp.after_request(cors.add_headers)


def question_dict(entry):
    """A published entry as the public sees it (no inquiry, no admin)."""
    return {
        "id": entry.id,
        "product_id": entry.product_id,
        "question": entry.question,
        "answer": entry.answer,
        "language": entry.language,
        "created_at": iso(entry.created_at),
        "updated_at": iso(entry.updated_at),
        "url": links.external("storefront.question_page", product_id=entry.product_id, question_id=entry.id)
        if entry.product.site.public_id == "demo"
        else None,
    }


def _admin_dict(entry):
    return dict(question_dict(entry), inquiry_id=entry.inquiry_id)


def _texts():
    data = json_object()
    return field(data, "question"), field(data, "answer")


def _publish_input():
    data = json_object()
    return field(data, "question"), field(data, "answer"), data.get("language")


@admin_bp.post("/inquiries/<id:inquiry_id>/publish")
def admin_publish_question(inquiry_id):
    """Publish a question and answer about the inquiry's product (201, with its id)."""
    question, answer, language = _publish_input()
    entry = questions.publish(inquiry_id, current_admin(), question, answer, language=language)
    return jsonify(_admin_dict(entry)), 201


@admin_bp.put("/questions/<id:question_id>")
def admin_edit_question(question_id):
    """Replace both texts of a published entry."""
    question, answer = _texts()
    return jsonify(_admin_dict(questions.edit(question_id, question, answer)))


@admin_bp.delete("/questions/<id:question_id>")
def admin_withdraw_question(question_id):
    """Withdraw an entry: gone from every public place (204)."""
    questions.withdraw(question_id)
    return "", 204


@bp.get("/products/<id:product_id>/questions")
def product_questions(product_id):
    """A product's published questions and answers, newest first."""
    conversations.get_product(product_id)
    page = questions.for_product(product_id)
    return jsonify(count=page.count, questions=[question_dict(e) for e in page.items])


@bp.get("/products/<id:product_id>/suggestions")
def product_suggestions(product_id):
    """Published questions and answers of the product that match ``q`` (best first)."""
    conversations.get_product(product_id)
    text = request.args.get("q", "")
    language = i18n.clean(request.args.get("language"))  # preferred first; only ever one of ours
    return jsonify(questions=[question_dict(e) for e in questions.suggest(product_id, text, language=language)])
