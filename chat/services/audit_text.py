"""The audit log in the reader's language: a label for each action, and the details we
wrote (counts, roles, "all sites") said again in the panel's language.

The stored entry stays as recorded: its action code and English detail are what the CSV
and the JSON give to scripts (stable machine columns), and a detail we cannot read back
(an older wording, a name that looks like our words) is shown as stored. Names, emails,
URLs and ids inside a detail are the user's own and are never translated.
"""

import re

from flask_babel import gettext, lazy_gettext

from .access import role_name

ACTION_LABELS = {
    "login": lazy_gettext("Signed in"),
    "login.failed": lazy_gettext("Sign-in refused"),
    "logout": lazy_gettext("Signed out"),
    "sessions.ended": lazy_gettext("Sessions ended"),
    "person.invited": lazy_gettext("Person invited"),
    "invitation.resent": lazy_gettext("Invitation sent again"),
    "invitation.revoked": lazy_gettext("Invitation revoked"),
    "invitation.accepted": lazy_gettext("Invitation accepted"),
    "person.changed": lazy_gettext("Person changed"),
    "person.deactivated": lazy_gettext("Person deactivated"),
    "person.reactivated": lazy_gettext("Person reactivated"),
    "person.created": lazy_gettext("Person created"),
    "token.created": lazy_gettext("API token created"),
    "token.revoked": lazy_gettext("API token revoked"),
    "site.created": lazy_gettext("Site created"),
    "site.changed": lazy_gettext("Site changed"),
    "site_key.created": lazy_gettext("Site key created"),
    "site_key.revoked": lazy_gettext("Site key revoked"),
    "identity_secret.shown": lazy_gettext("Identity secret shown"),
    "identity_secret.rotated": lazy_gettext("Identity secret rotated"),
    "webhook.created": lazy_gettext("Webhook created"),
    "webhook.changed": lazy_gettext("Webhook changed"),
    "webhook.deleted": lazy_gettext("Webhook deleted"),
    "webhook.secret_rotated": lazy_gettext("Webhook secret rotated"),
    "customer.exported": lazy_gettext("Customer data exported"),
    "customer.erased": lazy_gettext("Customer data erased"),
    "customer.sessions_ended": lazy_gettext("Customer's chat sessions ended"),
    "purge": lazy_gettext("Old data purged"),
    "hours.changed": lazy_gettext("Business hours changed"),
}

ACTOR_KINDS = {
    "cli": lazy_gettext("command line"),
    "token": lazy_gettext("API token"),
    "anonymous": lazy_gettext("not signed in"),
}


def action_label(code):
    """The action in the reader's words; an action we do not know, as its code."""
    label = ACTION_LABELS.get(code)
    return str(label) if label is not None else code


def actor_kind(kind):
    label = ACTOR_KINDS.get(kind)
    return str(label) if label is not None else kind


def _sites(text):
    """chat/services/people.py describe_sites: "all sites", "no site" or a list of site ids."""
    if text == "all sites":
        return gettext("all sites")
    if text == "no site":
        return gettext("no site")
    return text


def _role_on(text):
    role, sep, sites = text.partition(" on ")
    return gettext("%(role)s on %(sites)s", role=role_name(role), sites=_sites(sites)) if sep else text


def _origins(text):
    return gettext("none") if text == "none" else text


# action -> [(how we wrote the detail, how the reader reads it)]; the first that matches wins.
_DETAILS = {
    "sessions.ended": [(r"all (\d+)", lambda m: gettext("all %(count)s", count=m[1]))],
    "customer.exported": [(r"(\d+) inquiries", lambda m: gettext("%(count)s inquiries", count=m[1]))],
    "customer.erased": [(r"(\d+) inquiries", lambda m: gettext("%(count)s inquiries", count=m[1]))],
    "customer.sessions_ended": [(r"(\d+) chat sessions", lambda m: gettext("%(count)s chat sessions", count=m[1]))],
    "purge": [
        (
            r"(\d+) inquiries, (\d+) audit entries",
            lambda m: gettext("%(inquiries)s inquiries, %(entries)s audit entries", inquiries=m[1], entries=m[2]),
        )
    ],
    "hours.changed": [(r"time zone (.+)", lambda m: gettext("time zone %(zone)s", zone=m[1]))],
    "site_key.created": [(r"key (.+)", lambda m: gettext("key %(name)s", name=m[1]))],
    "site_key.revoked": [(r"key #(\d+)", lambda m: gettext("key #%(id)s", id=m[1]))],
    "site.created": [
        (r"(.*); origins: (.*)", lambda m: gettext("%(name)s; origins: %(origins)s", name=m[1], origins=_origins(m[2])))
    ],
    "site.changed": [
        (
            r"name: (.*); origins: (.*); automatic assignment: (on|off)",
            lambda m: gettext(
                "name: %(name)s; origins: %(origins)s; automatic assignment: %(state)s",
                name=m[1],
                origins=_origins(m[2]),
                state=gettext("on") if m[3] == "on" else gettext("off"),
            ),
        )
    ],
    "webhook.changed": [
        (
            r"(.*); (enabled|disabled)",
            lambda m: "%s; %s" % (m[1], gettext("enabled") if m[2] == "enabled" else gettext("disabled")),
        )
    ],
    "token.created": [(r"(.*) of (\S+)", lambda m: gettext("%(name)s of %(email)s", name=m[1], email=m[2]))],
    "token.revoked": [(r"of (\S+)", lambda m: gettext("of %(email)s", email=m[1]))],
    "person.invited": [(r"(\S+) as (.+)", lambda m: gettext("%(email)s as %(role)s", email=m[1], role=_role_on(m[2])))],
    "person.created": [(r"(\S+) as (.+)", lambda m: gettext("%(email)s as %(role)s", email=m[1], role=_role_on(m[2])))],
    "invitation.accepted": [
        (r"(\S+) as (\w+)", lambda m: gettext("%(email)s as %(role)s", email=m[1], role=role_name(m[2])))
    ],
    "person.changed": [
        (
            r"(\S+): (.+) -> (.+)",
            lambda m: gettext(
                "%(email)s: %(before)s → %(after)s", email=m[1], before=_role_on(m[2]), after=_role_on(m[3])
            ),
        ),
        (r"(\S+) as (.+)", lambda m: gettext("%(email)s as %(role)s", email=m[1], role=_role_on(m[2]))),
    ],
}


def detail(entry):
    """``entry.detail`` in the reader's language where we wrote it; else as stored."""
    for pattern, say in _DETAILS.get(entry.action, ()):
        match = re.fullmatch(pattern, entry.detail or "", re.S)
        if match:
            return say(match)
    return entry.detail or ""
