"""A real SMTP server (aiosmtpd) on a local port that keeps what it is given."""

from __future__ import annotations

import email
import email.policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller

from tests.support.pg import _free_port


class Inbox:
    def __init__(self):
        self.messages: list[tuple[list[str], str]] = []
        self.refuse: int | None = None  # answer every DATA with this code (e.g. 451, 550)
        self.busy_for: set[str] = set()  # recipients whose messages get "451 try again later"
        self.peers: list[tuple[str, int]] = []  # the client's address and port of each message taken

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.refuse:
            return f"{self.refuse} {'try again later' if self.refuse < 500 else 'no such mailbox'}"
        if self.busy_for & set(envelope.rcpt_tos):
            return "451 try again later"
        self.peers.append(session.peer)
        self.messages.append((envelope.rcpt_tos, envelope.content.decode()))
        return "250 Message accepted for delivery"

    def parsed(self) -> list[EmailMessage]:
        return [email.message_from_string(raw, policy=email.policy.default) for _, raw in self.messages]


def start() -> tuple[Inbox, Controller, str]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=_free_port())
    controller.start()
    return inbox, controller, f"smtp://127.0.0.1:{controller.port}"


def text_of(msg: EmailMessage) -> str:
    """The plain-text part, with line ends and non-breaking spaces ("10\u00a0%") made plain for asserting."""
    return msg.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n").replace("\u00a0", " ")


def html_of(msg: EmailMessage) -> str:
    return msg.get_body(preferencelist=("html",)).get_content().replace("\u00a0", " ")
