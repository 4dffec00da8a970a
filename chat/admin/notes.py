"""Private notes from the inquiry page (a form of its own: it never signals typing)."""

from flask import request
from flask_login import current_user

from ..htmx import render_fragment
from ..services import inquiries, notes
from ..services.errors import ValidationError
from . import bp


@bp.post("/inquiries/<id:inquiry_id>/notes")
def add_note(inquiry_id):
    """Answers with an empty note form and the note for the log (out of band: the
    log drops it if the live stream showed it first)."""
    inquiry = inquiries.get(inquiry_id)
    text = request.form.get("text", "")
    try:
        note = notes.add(inquiry.id, current_user, text)
    except ValidationError as error:
        return render_fragment(
            "admin/_note_form.html", inquiry=inquiry, error=error.message, text=text, status=error.status
        )
    return render_fragment("admin/_note_form.html", inquiry=inquiry, note=note, status=201)
