"""Admin API for what helps answering: private notes and canned replies.

Routes on the admin API blueprint (chat/api/admin.py), so they share its
authentication (bearer token, or login session with CSRF) and errors.
"""

from flask import jsonify

from ..inputs import field, json_object
from ..services import canned, inquiries, notes
from .admin import bp, current_admin
from .serializers import iso, message_dict


def canned_dict(reply):
    return {
        "id": reply.id,
        "title": reply.title,
        "shortcut": reply.shortcut,
        "text": reply.body,
        "created_at": iso(reply.created_at),
        "updated_at": iso(reply.updated_at),
    }


@bp.post("/inquiries/<id:inquiry_id>/notes")
def admin_add_note(inquiry_id):
    """A private note on the inquiry: admins see it, the customer never does (201)."""
    text = field(json_object(), "text")
    inquiries.get(inquiry_id)
    return jsonify(message_dict(notes.add(inquiry_id, current_admin(), text))), 201


@bp.get("/canned-replies")
def admin_list_canned():
    """Every canned reply, by shortcut."""
    return jsonify(canned_replies=[canned_dict(r) for r in canned.all_replies()])


@bp.post("/canned-replies")
def admin_create_canned():
    """A new canned reply (422 when a field is wrong or the shortcut is taken)."""
    return jsonify(canned_dict(canned.create(current_admin(), json_object()))), 201


@bp.put("/canned-replies/<id:reply_id>")
def admin_update_canned(reply_id):
    """Replace a canned reply's title, shortcut and text."""
    data = json_object()
    canned.get(reply_id)
    return jsonify(canned_dict(canned.update(reply_id, data)))


@bp.delete("/canned-replies/<id:reply_id>")
def admin_delete_canned(reply_id):
    canned.delete(reply_id)
    return "", 204
