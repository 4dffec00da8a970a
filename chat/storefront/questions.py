"""Product Q&A on the demo shop's pages: the list on the product page, and a page
per published question with schema.org ``QAPage`` markup (one question per page,
as Google asks; the product page lists them without claiming a QAPage)."""

from flask import render_template

from .. import links
from ..services import questions
from . import bp
from .views import demo_product_or_404


@bp.context_processor
def product_questions():
    """``product_questions(product)``: the product page's Q&A section (newest first, a count)."""
    return {"product_questions": questions.for_product}


@bp.get("/products/<id:product_id>/questions/<id:question_id>")
def question_page(product_id, question_id):
    """One published question and its answer (404 once withdrawn)."""
    product = demo_product_or_404(product_id)
    entry = questions.get_for_product(product.id, question_id)
    return render_template(
        "storefront/question.html", product=product, entry=entry, structured_data=qa_page(product, entry)
    )


def _date(value):
    return value.isoformat(timespec="seconds") + "Z"


def qa_page(product, entry):
    """schema.org QAPage for one question (rendered with ``tojson``: safe inside a script tag)."""
    url = links.external("storefront.question_page", product_id=product.id, question_id=entry.id)
    return {
        "@context": "https://schema.org",
        "@type": "QAPage",
        "inLanguage": entry.language,
        "mainEntity": {
            "@type": "Question",
            "inLanguage": entry.language,
            "name": entry.question,
            "text": entry.question,
            "answerCount": 1,
            "dateCreated": _date(entry.created_at),
            "author": {"@type": "Person", "name": "A customer"},
            "about": {
                "@type": "Product",
                "name": product.name,
                "url": links.external("storefront.product_detail", product_id=product.id),
            },
            "acceptedAnswer": {
                "@type": "Answer",
                "inLanguage": entry.language,
                "text": entry.answer,
                "dateCreated": _date(entry.created_at),
                "url": url + "#answer",
                "author": {"@type": "Organization", "name": product.site.name},
            },
        },
    }
