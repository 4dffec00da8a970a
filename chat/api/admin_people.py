"""The team in the admin JSON API: people, invitations, role and site changes, the audit log."""

from flask import jsonify, request

from ..inputs import field, json_object, optional_id, optional_int
from ..services import audit, people
from .admin import bp, current_admin


@bp.get("/people")
def admin_people():
    """Everyone the caller works with, and the pending invitations."""
    admin = current_admin()
    return jsonify(
        people=[people.as_dict(p) for p in people.people(admin)],
        invitations=[
            {
                "id": i.id,
                "email": i.email,
                "role": i.role,
                "state": i.state,
                "expires_at": i.expires_at.isoformat() + "Z",
            }
            for i in people.invitations(admin)
        ],
    )


@bp.post("/invitations")
def admin_invite():
    """Invite ``email`` as ``role`` on ``sites`` (a list of site ids, or null: every site): 201
    with the invitation's id and its acceptance link (mailed too)."""
    data = json_object()
    invitation, url = people.invite(
        current_admin(), field(data, "email", str), field(data, "role", str), data.get("sites")
    )
    return jsonify(id=invitation.id, url=url), 201


@bp.put("/people/<id:user_id>")
def admin_update_person(user_id):
    """Set a person's ``role`` and ``sites`` (null: every site); 409 for the last owner."""
    data = json_object()
    user = people.change(current_admin(), people.get(user_id), field(data, "role", str), data.get("sites"))
    return jsonify(people.as_dict(people.Person(user, None)))


@bp.get("/audit")
def admin_audit():
    """Audit entries, newest first, filtered like the page (``before``: an id, for the next page)."""
    filters = audit.Filters.parse(request.args)
    limit = optional_int("limit", 100, 1, 500)
    rows = audit.entries(filters, limit=limit, before=optional_id("before"))
    return jsonify(entries=[audit.as_dict(e) for e in rows], next_before=rows[-1].id if len(rows) == limit else None)
