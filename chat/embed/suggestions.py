"""Suggested answers in the widget: published Q&A of this product that match what the
shopper is typing ("Others asked…"), and a record of the ones they open."""

from flask import g, request
from flask_babel import gettext

from .. import i18n, identity
from ..htmx import render_fragment
from ..services import questions
from ..services.errors import NotFound
from . import bp


@bp.get("/embed/<site>/products/<external:external_id>/suggestions")
def suggestions():
    """A fragment for the box under the input (``message_text``, as the textarea sends it, or ``q``)."""
    text = request.args.get("message_text", request.args.get("q", ""))
    found = questions.suggest(g.chat_product.id, text, language=i18n.current()) if g.chat_product is not None else []
    return render_fragment("embed/_suggestions.html", suggestions=found)


@bp.post("/embed/<site>/products/<external:external_id>/suggestions/<id:question_id>/open")
def open_suggestion(question_id):
    """The shopper opened a suggestion: recorded with their session (made now if they have none),
    so the admin sees it on the inquiry they may start next."""
    if g.chat_product is None:
        raise NotFound(gettext("No such published question."), {"question_id": gettext("unknown or withdrawn")})
    entry = questions.get_for_product(g.chat_product.id, question_id)
    questions.record_view(entry.id, identity.ensure())
    return "", 204
