"""A real SMTP server on loopback (aiosmtpd) that keeps every message it accepts, for tests and benches.

Recipients listed in ``reject`` get a permanent 550 at RCPT TO, as a mailbox that does not exist would;
those in ``defer`` a transient 451.
"""

from __future__ import annotations

import asyncio
import email
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    def parsed(self) -> EmailMessage:
        message = email.message_from_bytes(self.data, policy=default)
        assert isinstance(message, EmailMessage)
        return message


@dataclass
class Handler:
    reject: set[str] = field(default_factory=set)
    defer: set[str] = field(default_factory=set)  # answered 451 (try again later) at RCPT TO
    keep: bool = True  # benches only count, to keep memory flat
    delay: float = 0.0  # seconds before answering DATA: a slower server, to kill senders mid-run
    messages: list[Received] = field(default_factory=list)
    per_recipient: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if address in self.reject:
            return "550 5.1.1 No such mailbox"
        if address in self.defer:
            return "451 4.3.0 Try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        data = envelope.original_content or b""
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.per_recipient[rcpt] = self.per_recipient.get(rcpt, 0) + 1
            if self.keep:
                self.messages.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), data))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        return [m.parsed() for m in self.messages if address in m.rcpt_tos]


class SmtpServer:
    """``with SmtpServer() as s: …`` — listening on 127.0.0.1:``s.port`` while inside."""

    def __init__(self, port: int = 0, controller: dict[str, Any] | None = None, **handler: Any) -> None:
        self.handler = Handler(**handler)
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=port or _free_port(), **(controller or {})
        )

    @property
    def port(self) -> int:
        return int(self.controller.port)

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}?starttls=off"

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.controller.stop()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])
