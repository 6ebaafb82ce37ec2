"""Limits on the size of a request, answered by Django before any view, parser or session runs.

A body past the limit is refused from its Content-Length, without reading it. The API gets
problem+json; pages get the error page. The WSGI server in front has its own, looser limits
(gunicorn.conf.py), which it answers itself, in HTML (docs/operations.md, "Limits").
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from core.errors import GatewayError, PayloadTooLarge, problem_response, wants_problem


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def limit_exceeded(request: HttpRequest) -> GatewayError | None:
    if _declared_length(request) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        return PayloadTooLarge(f"The body may hold {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes at most.")
    return None


class RequestLimitsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        error = limit_exceeded(request)
        if error is None:
            return self.get_response(request)
        if wants_problem(request):
            return problem_response(error, request)
        context = {"title": _("The request is too large"), "status": error.status}
        return render(request, "error.html", context, status=error.status)
