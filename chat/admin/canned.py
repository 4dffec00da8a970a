"""Canned replies: the admin page (list, create, edit, delete) and the answer box's suggestions."""

from flask import redirect, render_template, request, url_for
from flask_login import current_user

from ..htmx import render_fragment
from ..services import canned, inquiries
from ..services.errors import ValidationError
from . import bp


def _page(status=200, **context):
    context.setdefault("error", None)
    context.setdefault("editing", None)
    context.setdefault("form", {})
    return render_template("admin/canned.html", replies=canned.all_replies(), **context), status


@bp.get("/canned")
def canned_page():
    return _page()


@bp.post("/canned")
def create_canned():
    try:
        canned.create(current_user, request.form)
    except ValidationError as error:
        return _page(422, error=error, form=request.form)
    return redirect(url_for("admin.canned_page"), 303)


@bp.post("/canned/<id:reply_id>")
def update_canned(reply_id):
    canned.get(reply_id)
    try:
        canned.update(reply_id, request.form)
    except ValidationError as error:
        return _page(422, error=error, editing=reply_id, form=request.form)
    return redirect(url_for("admin.canned_page"), 303)


@bp.post("/canned/<id:reply_id>/delete")
def delete_canned(reply_id):
    canned.delete(reply_id)
    return redirect(url_for("admin.canned_page"), 303)


@bp.get("/inquiries/<id:inquiry_id>/canned")
def canned_suggestions(inquiry_id):
    """Replies matching what follows "/" in the answer box, filled for this inquiry."""
    inquiry = inquiries.get(inquiry_id)
    replies = canned.matching(request.args.get("q", ""))
    options = [(reply, canned.fill(reply.body, inquiry)) for reply in replies]
    return render_fragment("admin/_canned_options.html", options=options)
