"""The demo's mail catcher (`flask chat mail-catcher`, run by `make run`).

An SMTP server on loopback (aiosmtpd) that delivers nothing: each mail is kept
as an ``.eml`` file under ``instance/mail/`` and summarised on stdout, so a
newcomer sees the urgent-inquiry and answer emails without a mail server. For
development only: it accepts any mail from any local process.
"""

import email
import itertools
import os
import time
from email import policy

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
