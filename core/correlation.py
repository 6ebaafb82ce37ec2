"""The correlation id of the request or task being served, for audit events, logs and responses.

Set by `CorrelationIdMiddleware` (and by tasks from their arguments); read by `event_record` and
the error handler.
"""

from __future__ import annotations

import contextvars
import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

HEADER = "X-Correlation-Id"

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


class CorrelationIdMiddleware:
    """Accepts the caller's X-Correlation-Id (or makes one) and returns it on every response.

    It is first in MIDDLEWARE so that even a response made by a later middleware carries it.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        correlation_id = accept_correlation_id(request.headers.get(HEADER))
        request.correlation_id = correlation_id  # type: ignore[attr-defined]
        token = set_correlation_id(correlation_id)
        try:
            response = self.get_response(request)
        finally:
            reset_correlation_id(token)
        response[HEADER] = correlation_id
        return response
