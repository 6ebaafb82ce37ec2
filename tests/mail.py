"""A real SMTP server for the tests (aiosmtpd, in a thread of the test process): what the gateway
sends through Django's SMTP backend, or a Celery worker through its own, arrives here."""

from __future__ import annotations

import email
import email.policy
import threading
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.processes import free_port, wait_until


class Mailbox:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's hook
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self._lock:
            self._messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    @property
    def messages(self) -> list[EmailMessage]:
        with self._lock:
            return list(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()

    def to(self, address: str) -> list[EmailMessage]:
        return [message for message in self.messages if address in str(message["To"])]

    def wait_for(self, count: int, *, timeout: float = 90.0) -> list[EmailMessage]:
        """At least `count` messages, waiting for them to arrive (a worker sends them)."""
        wait_until(lambda: len(self.messages) >= count, what=f"{count} emails at the SMTP server", timeout=timeout)
        return self.messages


class SmtpServer:
    def __init__(self) -> None:
        self.mailbox = Mailbox()
        self.host, self.port = "127.0.0.1", free_port()
        self._controller = Controller(self.mailbox, hostname=self.host, port=self.port)

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


def body(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())


def subject(message: EmailMessage) -> str:
    """The subject as read (a long one arrives folded)."""
    return " ".join(str(message["Subject"]).split())
