"""Workflow notes ("Marked resolved by Ana", "Assigned to Bo by Ana") in the reader's language.

They are stored as English text (chat/services/inquiries.py, assignment.py,
conversations.py write them; the API, search and exports read that text). The panel
shows them in its own language: a stored note is read back against the few forms those
services write, the acting admin's name taken from the note's sender, so every row
(old ones too) is translated; a text that matches none of them is shown as stored.
"""

import re

from flask_babel import gettext

from .services.conversations import REOPENED
from .services.inquiries import STATUS_LABELS

_STATUS_CODES = {label: code for code, label in STATUS_LABELS.items()}
_AUTOMATIC = re.compile(r"Assigned automatically to (?P<name>.+)")


def _status(code):
    from .admin.views import STATUS_NAMES

    return str(STATUS_NAMES.get(code, code))


def _priority(code):
    from .admin.views import PRIORITY_NAMES

    return str(PRIORITY_NAMES.get(code, code))


def _by_actor(head, actor):
    """The note's words before " by <actor>", translated; None when they are no known form."""
    if head == "Taken":
        return gettext("Taken by %(admin)s", admin=actor)
    if head == "Unassigned":
        return gettext("Unassigned by %(admin)s", admin=actor)
    if head.startswith("Marked ") and head[7:] in _STATUS_CODES:
        return gettext("Marked %(status)s by %(admin)s", status=_status(_STATUS_CODES[head[7:]]), admin=actor)
    if head.startswith("Priority set to "):
        return gettext("Priority set to %(priority)s by %(admin)s", priority=_priority(head[16:]), admin=actor)
    if head.startswith("Assigned to "):
        return gettext("Assigned to %(name)s by %(admin)s", name=head[12:], admin=actor)
    return None


def text(message):
    """A system message's text as the page's language writes it."""
    stored = message.message_text or ""
    if message.system_event == "resolved":
        return gettext("Marked as answered — write again any time.")
    if stored == REOPENED:
        return gettext("Reopened: the customer wrote again")
    automatic = _AUTOMATIC.fullmatch(stored)
    if automatic:
        return gettext("Assigned automatically to %(name)s", name=automatic.group("name"))
    actor = message.sender.name if message.sender is not None else None
    if actor and stored.endswith(f" by {actor}"):
        return _by_actor(stored[: -len(f" by {actor}")], actor) or stored
    return stored
