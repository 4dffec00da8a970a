"""The People page: who works on which sites with which role, invitations, deactivation;
the invitation's acceptance page (public: the signed link is the credential); the audit log."""

from flask import Response, flash, redirect, render_template, request, url_for
from flask_babel import gettext, ngettext
from flask_login import current_user

from .. import spreadsheets
from ..services import ServiceError, access, audit, audit_text, people
from ..services.errors import Conflict
from . import bp


def _sites_from_form():
    """None (every site) when "all" is ticked, else the ticked site ids."""
    if request.form.get("all_sites"):
        return None
    return request.form.getlist("sites")


def _page(status=200, errors=None, form=None, url=None):
    html = render_template(
        "admin/people.html",
        people=people.people(current_user),
        invitations=people.invitations(current_user),
        sites=access.visible_sites(current_user),
        roles=[r for r in ("owner", "manager", "agent") if access.assignable_role(current_user, r)],
        errors=errors or {},
        form=form or {"email": "", "role": "agent", "sites": [], "all_sites": False},
        new_url=url,
        can_change=access.has_role(current_user, "people"),
        me=current_user,
    )
    return html, status, {"Cache-Control": "no-store"}


@bp.get("/people")
def people_page():
    """Everyone, their role, sites and last visit; pending invitations; the invitation form."""
    return _page()


@bp.post("/people/invitations")
def invite():
    """Invite by email with a role and sites; the page shows the link (the mail carries it too)."""
    form = {
        "email": request.form.get("email", ""),
        "role": request.form.get("role", ""),
        "sites": request.form.getlist("sites"),
        "all_sites": bool(request.form.get("all_sites")),
    }
    try:
        invitation, url = people.invite(current_user, form["email"], form["role"], _sites_from_form())
    except ServiceError as error:
        return _page(error.status if error.status != 400 else 422, {"form": error.message, **error.fields}, form)
    flash(gettext("Invitation sent to %(email)s.", email=invitation.email))
    return _page(url=url)


@bp.post("/people/invitations/<id:invitation_id>/resend")
def resend_invitation(invitation_id):
    """A fresh link, mailed again (the previous one stops working)."""
    invitation, url = people.resend(current_user, invitation_id)
    flash(gettext("Invitation sent again to %(email)s.", email=invitation.email))
    return _page(url=url)


@bp.post("/people/invitations/<id:invitation_id>/revoke")
def revoke_invitation(invitation_id):
    invitation = people.revoke(current_user, invitation_id)
    flash(gettext("The invitation for %(email)s is withdrawn.", email=invitation.email))
    return redirect(url_for("admin.people_page"), code=303)


@bp.post("/people/<id:user_id>")
def update_person(user_id):
    """Change a person's role and sites (owners only; the last owner stays one)."""
    user = people.get(user_id)
    try:
        people.change(current_user, user, request.form.get("role", ""), _sites_from_form())
    except ServiceError as error:
        flash(error.message)
        return _page(error.status)
    flash(
        gettext(
            "%(name)s is now %(role)s on %(sites)s.",
            name=user.name,
            role=access.role_name(user.role),
            sites=gettext("all sites")
            if user.all_sites
            else ", ".join(s.name for s in user.sites) or gettext("no site"),
        )
    )
    return redirect(url_for("admin.people_page"), code=303)


@bp.post("/people/<id:user_id>/deactivate")
def deactivate_person(user_id):
    """Deactivate: every session ends now, API tokens stop working."""
    user = people.get(user_id)
    try:
        ended = people.set_active(current_user, user, False)
    except Conflict as error:
        flash(error.message)
        return _page(409)
    flash(
        ngettext(
            "%(name)s is deactivated (%(num)s session ended).",
            "%(name)s is deactivated (%(num)s sessions ended).",
            ended,
            name=user.name,
        )
    )
    return redirect(url_for("admin.people_page"), code=303)


@bp.post("/people/<id:user_id>/reactivate")
def reactivate_person(user_id):
    user = people.get(user_id)
    people.set_active(current_user, user, True)
    flash(gettext("%(name)s can log in again.", name=user.name))
    return redirect(url_for("admin.people_page"), code=303)


@bp.route("/invitations/<token>", methods=["GET", "POST"], endpoint="accept_invitation")
def accept_invitation(token):
    """The invitee sets their name and password (or is told to log in if the email has an account)."""
    try:
        invitation = people.redeem(token)
    except ServiceError as error:
        return render_template("admin/accept.html", problem=error.message, invitation=None), error.status
    has_account = people.admin_sessions.find_admin(invitation.email) is not None
    errors, form = {}, {"name": ""}
    if request.method == "POST" and not has_account:
        form["name"] = request.form.get("name", "")
        try:
            people.accept(token, form["name"], request.form.get("password", ""), request.form.get("confirm_password"))
        except ServiceError as error:
            errors = {"form": error.message, **error.fields}
            return render_template(
                "admin/accept.html", invitation=invitation, errors=errors, form=form, has_account=False
            ), error.status
        flash(gettext("Welcome! Log in with your email and the password you chose."))
        return redirect(url_for("admin.login"), code=303)
    return render_template(
        "admin/accept.html", invitation=invitation, errors=errors, form=form, has_account=has_account
    )


# -- the audit log ---------------------------------------------------------------


@bp.get("/audit")
def audit_page():
    """Who did what: filters by person, action, object and dates; newest first."""
    errors = {}
    try:
        filters = audit.Filters.parse(request.args)
    except ServiceError as error:
        filters, errors = audit.Filters(), error.fields
    html = render_template(
        "admin/audit.html",
        entries=audit.entries(filters),
        filters=filters,
        actions=audit.ACTIONS,
        errors=errors,
        action_label=audit_text.action_label,
        actor_kind=audit_text.actor_kind,
        detail=audit_text.detail,
        filter_labels={
            "from": gettext("From"),
            "to": gettext("To"),
            "action": gettext("Action"),
            "person": gettext("Who"),
            "object": gettext("Object"),
        },
    )
    return html, 422 if errors else 200


@bp.get("/audit.csv")
def audit_csv():
    """The filtered entries as CSV (cells kept from running as formulas)."""
    filters = audit.Filters.parse(request.args)
    body = spreadsheets.write(audit.csv_rows(audit.entries(filters, limit=100_000)))
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": 'attachment; filename="audit.csv"', "Cache-Control": "no-store"},
    )
