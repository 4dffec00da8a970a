"""API tokens page: an admin creates (and revokes) tokens for the JSON admin API."""

from flask import render_template, request
from flask_login import current_user

from ..services import ValidationError, admin_tokens
from . import bp


@bp.route("/tokens", methods=["GET", "POST"])
def tokens():
    created = error = None
    status = 200
    if request.method == "POST":
        try:
            created = admin_tokens.create(current_user, request.form.get("name", ""))
        except ValidationError as exc:
            error, status = exc.message, 422
    return render_template(
        "admin/tokens.html", tokens=admin_tokens.tokens_of(current_user), created=created, error=error
    ), status


@bp.post("/tokens/<id:token_id>/revoke")
def revoke_token(token_id):
    admin_tokens.revoke(current_user, token_id)
    return render_template("admin/tokens.html", tokens=admin_tokens.tokens_of(current_user), created=None, error=None)
