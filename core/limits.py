"""Limits on the size of a request, answered by Django before any view, parser or session runs.

The address, the headers and the body (from its Content-Length, without reading it). The API gets
problem+json; pages get the error page. The WSGI server in front has its own limits, set looser in
gunicorn.conf.py so that these answer first; past those it answers itself, in HTML
(docs/operations.md, "Limits and errors").
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from core.errors import (
    GatewayError,
    HeadersTooLarge,
    PayloadTooLarge,
    UriTooLong,
    problem_response,
    wants_problem,
)


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


def _headers(request: HttpRequest) -> list[str]:
    return [str(value) for key, value in request.META.items() if key.startswith("HTTP_") or key in _UNPREFIXED_HEADERS]


_UNPREFIXED_HEADERS = {"CONTENT_TYPE", "CONTENT_LENGTH"}


def limit_exceeded(request: HttpRequest) -> GatewayError | None:
    url_length = len(request.META.get("PATH_INFO", "")) + len(request.META.get("QUERY_STRING", ""))
    if url_length > settings.REQUEST_MAX_URL_LENGTH:
        return UriTooLong(f"The path and query may hold {settings.REQUEST_MAX_URL_LENGTH} characters at most.")
    headers = _headers(request)
    if len(headers) > settings.REQUEST_MAX_HEADERS:
        return HeadersTooLarge(f"A request may carry {settings.REQUEST_MAX_HEADERS} headers at most.")
    if any(len(value) > settings.REQUEST_MAX_HEADER_BYTES for value in headers):
        return HeadersTooLarge(f"A header may hold {settings.REQUEST_MAX_HEADER_BYTES} characters at most.")
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
