"""What an admin page's stream shows for a record (``admin/live.py`` filters, this renders).

``plan(record, viewer)`` names each variant by what tells viewers apart
(their sites, language, own id, list filters), so the first admin page of a
worker renders a record and the others reuse its bytes (see ``render``).
Only the rows of a list with a search run SQL: one matching query per worker per filter set.
"""

import collections
import json
from datetime import datetime
from types import SimpleNamespace

from flask import render_template, url_for
from flask_sse import Message

from ...services import inquiries, list_rows
from .. import records
from ..names import Event
from ..stream import once
from . import NOT_TYPING, marks


def message(message):
    html = render_template("conversation/_message.html", message=message, viewer="admin").strip()
    return Message(html, type=Event.MESSAGE, id=message.id)


def arrived(messages):
    out = [message(m) for m in messages]
    if any(m.sender_type == "customer" for m in messages):
        out.append(Message(NOT_TYPING, type=Event.TYPING))
    return out


def plan(record, viewer):
    """``(key, make)`` pairs for ``record`` as ``viewer`` (an ``AdminStream``) sees it."""
    mine = viewer.inquiry_id is not None and getattr(record, "inquiry_id", None) == viewer.inquiry_id
    if isinstance(record, records.Waiting):
        return [(("waiting", viewer.sees), lambda _event: [waiting(record.counts, viewer.sees)])]
    if isinstance(record, records.CustomerWrote):
        return [(("wrote",), lambda _event: [customer_wrote(record)])]
    if isinstance(record, records.InquiryChanged):
        if viewer.filters is None:
            return []
        return [(list_key(viewer), lambda event: list_row(event, record, viewer))]
    if not mine:
        return []
    if isinstance(record, records.Controls):
        # Per admin: the assignee list marks "(me)".
        return [(("controls", viewer.admin_id, viewer.locale), lambda _event: [controls(record, viewer.admin_id)])]
    if isinstance(record, records.Marks) and record.reader == "customer":
        html = lambda: render_template("conversation/_marks.html", marks=marks(record)).strip()  # noqa: E731
        return [(("marks", viewer.locale), lambda _event: [Message(html(), type=Event.MARKS)])]
    if isinstance(record, records.Typing) and record.sender == "customer":
        typing = lambda: render_template("conversation/_typing.html", who="The customer")  # noqa: E731
        return [(("typing", viewer.locale), lambda _event: [Message(typing(), type=Event.TYPING)])]
    if isinstance(record, records.Presence):
        return [(("presence", viewer.admin_id, viewer.locale), lambda _event: [presence(record, viewer.admin_id)])]
    return []


def waiting(counts, sees):
    """The badge: the waiting inquiries of the sites ``sees`` ("all", or site ids)."""
    total = sum(counts.values()) if sees == "all" else sum(counts.get(str(site), 0) for site in sees)
    return Message(str(min(total, inquiries.WAITING_SHOWN + 1)), type=Event.WAITING)


def customer_wrote(record):
    """The "a customer wrote" notification (JSON; the preview is shown only if the admin asks)."""
    payload = {
        "inquiry_id": record.inquiry_id,
        "message_id": record.message_id,
        "kind": record.kind,
        "product": record.product,
        "url": url_for("admin.inquiry_page", inquiry_id=record.inquiry_id),
        "preview": record.preview,
    }
    return Message(json.dumps(payload, ensure_ascii=False, separators=(",", ":")), type=Event.CUSTOMER_WROTE)


def controls(record, admin_id):
    """The inquiry's status, priority, assignee and rating controls, for ``admin_id``."""
    inquiry = SimpleNamespace(
        id=record.inquiry_id,
        status=record.status,
        priority=record.priority,
        assigned_admin_id=record.assignee_id,
        rating=record.rating,
        rating_comment=record.rating_comment,
        rated_at=datetime.fromisoformat(record.rated_at) if record.rated_at else None,
        controls_version=record.version,
    )
    html = render_template(
        "admin/_controls.html",
        inquiry=inquiry,
        admins=[SimpleNamespace(id=i, name=name) for i, name in record.admins],
        statuses=inquiries.INQUIRY_STATUSES,
        priorities=inquiries.PRIORITIES,
        status_labels=inquiries.STATUS_LABELS,
        me=admin_id,
    ).strip()
    return Message(html, type=Event.CONTROLS)


def presence(record, admin_id):
    viewers = [SimpleNamespace(id=i, name=name) for i, name in record.viewers if i != admin_id]
    return Message(render_template("admin/_viewers.html", viewers=viewers).strip() or " ", type=Event.PRESENCE)


def list_key(viewer):
    """Lists that show the same rows in the same language share one match and one rendering."""
    return (
        "list",
        viewer.list_args,
        viewer.admin_id if viewer.filters.assignee == "mine" else None,
        viewer.sees,
        viewer.locale,
        viewer.name_sites,
    )


# The newest INQUIRY record this worker passed on, per inquiry (bounded: the oldest forgotten).
_newest_rows = collections.OrderedDict()
NEWEST_KEPT = 10_000


def _outdated(record):
    """True for a row older than one this worker already passed on (its event overtook
    this one on the way: two workers published): the lists keep the newer row."""
    newest = _newest_rows.get(record.inquiry_id)
    if newest is not None and newest > record.built_ns:
        return True
    _newest_rows[record.inquiry_id] = record.built_ns
    _newest_rows.move_to_end(record.inquiry_id)
    while len(_newest_rows) > NEWEST_KEPT:
        _newest_rows.popitem(last=False)
    return False


def list_row(event, record, viewer):
    """The inquiry's row if it (still) matches the list's filters, else its removal. The row
    comes whole in the record: it is matched in Python and rendered once per language for
    every list, without a query. A search (``q``) matches words of the messages, which only
    the database holds: its lists keep one matching query per worker and filter set."""
    if once(event, ("outdated",), lambda: _outdated(record)):
        return []
    if viewer.filters.q:
        shown = inquiries.list_match(viewer.filters, viewer.admin_id, viewer.site_ids, record.inquiry_id) is not None
    else:
        shown = viewer.filters.matches(record, viewer.admin_id, viewer.site_ids)
    if not shown:
        return [Message(str(record.inquiry_id), type=Event.REMOVE)]
    key = ("row", record.inquiry_id, viewer.locale, viewer.name_sites)
    return [once(event, key, lambda: row(list_rows.shown(record), viewer.name_sites))]


def row(shown, name_site):
    """A list row (``list_rows.shown``): the list page renders the same template."""
    return Message(render_template("admin/_row.html", row=shown, name_site=name_site).strip(), type=Event.ROW)
