"""The correlation id of the request or task being served, for audit events and logs.

Set by the gateway's middleware (and by tasks from their arguments); read by `event_record`.
"""

from __future__ import annotations

import contextvars
import re
import uuid

_correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")

# A client-supplied id is echoed in headers and stored: keep it short and inert.
_SAFE = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")


def new_correlation_id() -> str:
    return uuid.uuid4().hex


def accept_correlation_id(value: str | None) -> str:
    return value if value and _SAFE.match(value) else new_correlation_id()


def set_correlation_id(value: str) -> contextvars.Token[str]:
    return _correlation_id.set(value)


def reset_correlation_id(token: contextvars.Token[str]) -> None:
    _correlation_id.reset(token)


def get_correlation_id() -> str:
    return _correlation_id.get()
