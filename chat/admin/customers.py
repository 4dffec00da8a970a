"""A customer's privacy from the inquiry page: end their sessions, export, erase."""

import json

from flask import Response, flash, redirect, request, send_file, url_for
from flask_babel import gettext

from ..services import inquiries, privacy, shoppers
from . import bp


def _customer(inquiry_id):
    inquiries.get(inquiry_id)
    return privacy.find_customer(inquiry_id=inquiry_id)


@bp.post("/inquiries/<id:inquiry_id>/customer/revoke")
def revoke_customer_sessions(inquiry_id):
    """End every chat session of this customer (their browsers start afresh)."""
    customer = _customer(inquiry_id)
    shoppers.revoke(customer.sessions)
    flash(gettext("The customer's chat sessions have ended; their next visit starts a new one."))
    return redirect(url_for("admin.inquiry_page", inquiry_id=inquiry_id), code=303)


@bp.get("/inquiries/<id:inquiry_id>/customer/export")
def export_customer(inquiry_id):
    """Everything stored about this customer, as a JSON download."""
    body = json.dumps(privacy.export(_customer(inquiry_id)), indent=2, ensure_ascii=False)
    return Response(
        body,
        mimetype="application/json",
        headers={
            "Content-Disposition": f'attachment; filename="customer-of-inquiry-{inquiry_id}.json"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/inquiries/<id:inquiry_id>/customer/export.zip")
def export_customer_zip(inquiry_id):
    """Everything stored about this customer and the files they and the shop sent, as a zip download."""
    archive = privacy.export_zip(_customer(inquiry_id))
    response = send_file(
        archive, mimetype="application/zip", as_attachment=True, download_name=f"customer-of-inquiry-{inquiry_id}.zip"
    )
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.post("/inquiries/<id:inquiry_id>/customer/erase")
def erase_customer(inquiry_id):
    """Delete all data of this customer; the form must confirm it."""
    if request.form.get("confirm") != "erase":
        flash(gettext("Type erase to confirm that all of this customer's data should be deleted."))
        return redirect(url_for("admin.inquiry_page", inquiry_id=inquiry_id), code=303)
    counts = privacy.erase(_customer(inquiry_id))
    flash(
        gettext(
            "Erased the customer's data: %(inquiries)s conversation(s), %(messages)s message(s), "
            "%(files)s file(s), %(emails)s mail(s).",
            **counts,
        )
    )
    return redirect(url_for("admin.inquiries"), code=303)
