"""`flask chat mail-in`: an SMTP server (aiosmtpd) for a host behind the MX.

It takes mail for our reply addresses only (any other recipient: 550 at ``RCPT``,
so it relays nothing), up to a size limit (552 past it, aiosmtpd's own), and
hands each mail to ``services.mail_in.receive`` in a worker thread with its own
app context. A mail is accepted (250) once it is handled, dropped ones included;
when the database cannot be reached the answer is 451, and the sending server
tries again later.
"""

import asyncio
import logging

from aiosmtpd.controller import Controller

from .services import mail_in, reply_addresses

log = logging.getLogger(__name__)


class InboundHandler:
    """aiosmtpd handler: reply addresses in, each mail through ``mail_in.receive``."""

    def __init__(self, app):
        self.app = app

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.app.app_context():
            ours = reply_addresses.ours(address)
        if not ours:
            return "550 5.1.1 Not a reply address of ours"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(
                None,
                self._receive,
                envelope.original_content or envelope.content,
                envelope.rcpt_tos,
                envelope.mail_from,
            )
        except Exception:  # noqa: BLE001 - the database, most likely: the sender keeps the mail and retries
            log.exception("inbound mail not handled; the sending server will retry")
            return "451 4.3.0 Not handled now, please try again later"
        return f"250 2.0.0 Handled: {result.outcome}"

    def _receive(self, raw, recipients, envelope_sender):
        with self.app.app_context():
            # A bounce's null sender ("MAIL FROM:<>") reaches us as "<>".
            return mail_in.receive(raw, list(recipients), "" if envelope_sender == "<>" else envelope_sender)


def start(app, host, port, max_bytes):
    """Serve on ``host``:``port`` in a thread; returns the aiosmtpd Controller."""
    controller = Controller(InboundHandler(app), hostname=host, port=port, data_size_limit=max_bytes)
    controller.start()
    return controller
