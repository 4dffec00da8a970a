"""SMTP on loopback for mail tests: a server that keeps what it receives."""

import email
from email import policy

from aiosmtpd.controller import Controller

from .live_server import free_port


class Inbox:
    """An aiosmtpd server on loopback that keeps what it receives; can go down and come back."""

    def __init__(self):
        self.mails = []
        self.port = free_port()
        self.controller = None

    def start(self):
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self):
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.mails.append((envelope.rcpt_tos, message))
        return "250 OK"
