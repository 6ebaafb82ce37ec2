from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from audit.context import accept_correlation_id, reset_correlation_id, set_correlation_id

HEADER = "X-Correlation-Id"


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
