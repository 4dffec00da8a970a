"""The demo's mail catcher (`flask chat mail-catcher`, run by `make run`), and replying
to what it caught (`flask chat reply-to-mail`).

An SMTP server on loopback (aiosmtpd) that delivers nothing: each mail is kept
as an ``.eml`` file under ``instance/mail/`` and summarised on stdout, so a
newcomer sees the urgent-inquiry and answer emails without a mail server. For
development only: it accepts any mail from any local process.

A reply is written as a mail program writes one (the original quoted under an
"On ... wrote:" line) and posted to our own inbound webhook, as a mail provider
would post it.
"""

import email
import html
import itertools
import json
import os
import time
import urllib.error
import urllib.request
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from aiosmtpd.controller import Controller

LOOPBACK = ("127.0.0.1", "::1", "localhost")


class MailCatcher:
    """aiosmtpd handler: keep every mail in ``folder`` and tell ``echo`` about it."""

    def __init__(self, folder, echo=print):
        self.folder = folder
        self.echo = echo
        self.count = itertools.count(1)
        os.makedirs(folder, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        name = f"{time.strftime('%Y%m%d-%H%M%S')}-{next(self.count):03d}.eml"
        path = os.path.join(self.folder, name)
        with open(path, "wb") as fh:
            fh.write(envelope.content)
        body = message.get_body(("plain",))
        text = body.get_content().strip() if body is not None else "(no text part)"
        self.echo(f"--- mail to {', '.join(envelope.rcpt_tos)}: {message['Subject']}\n{text}\n--- kept as {path}")
        return "250 Kept by the demo's mail catcher"


def start(folder, host="127.0.0.1", port=1025, echo=print):
    """Serve on ``host``:``port`` (loopback only) in a thread; returns the aiosmtpd Controller."""
    if host not in LOOPBACK:
        raise ValueError("the mail catcher listens on loopback only")
    controller = Controller(MailCatcher(folder, echo), hostname=host, port=port)
    controller.start()
    return controller


def reply_to(original, text, sender=None, as_html=False):
    """A reply to ``original`` (a caught mail's bytes) saying ``text``: to its Reply-To, from
    its recipient (or ``sender``), the original quoted below an "On ... wrote:" line.
    ``as_html``: an HTML-only reply. Raises ValueError for a mail without a Reply-To."""
    message = email.message_from_bytes(original, policy=policy.default)
    if not message["Reply-To"]:
        raise ValueError(
            "This mail has no Reply-To: it is not about one conversation, or it was sent while "
            "MAIL_REPLY_DOMAIN was unset. Pick an urgent, unanswered or answer mail."
        )
    body = message.get_body(("plain",))
    quoted_text = body.get_content().rstrip("\n") if body is not None else ""
    said = f"On {message['Date'] or 'an earlier day'}, {message['From']} wrote:"
    reply = EmailMessage()
    reply["From"] = sender or str(message["To"])
    reply["To"] = str(message["Reply-To"])
    reply["Subject"] = "Re: " + str(message["Subject"] or "")
    reply["Date"] = formatdate(localtime=True)
    reply["Message-ID"] = make_msgid(domain="reply-to-mail.localhost")
    if message["Message-ID"]:
        reply["In-Reply-To"] = reply["References"] = str(message["Message-ID"])
    if as_html:
        lines = "<br>".join(html.escape(line) for line in text.splitlines())
        quoted = "<br>".join(html.escape(line) for line in quoted_text.splitlines())
        reply.set_content(
            f'<html><body><div dir="ltr">{lines}</div><br><div class="gmail_quote">{html.escape(said)}<br>'
            f'<blockquote class="gmail_quote">{quoted}</blockquote></div></body></html>',
            subtype="html",
        )
    else:
        quoted = "\n".join(f"> {line}".rstrip() for line in quoted_text.splitlines())
        reply.set_content(f"{text}\n\n{said}\n{quoted}\n")
    return reply.as_bytes()


def post_reply(raw, config):
    """Post ``raw`` to our inbound webhook at ``PUBLIC_BASE_URL``; returns its JSON answer.
    Raises OSError when the server cannot be reached or refuses it."""
    request = urllib.request.Request(
        config["PUBLIC_BASE_URL"].rstrip("/") + "/api/inbound/email",
        data=raw,
        method="POST",
        headers={"Authorization": f"Bearer {config['INBOUND_EMAIL_SECRET']}", "Content-Type": "message/rfc822"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.load(response)
    except urllib.error.HTTPError as error:
        raise OSError(f"the server answered {error.code} {error.read(300).decode(errors='replace')}") from None
