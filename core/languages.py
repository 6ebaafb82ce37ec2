"""The language a person reads the gateway in, remembered for the e-mails they will get; the API's
language, English, whatever the client's Accept-Language."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.middleware.locale import LocaleMiddleware
from django.utils import translation

API_LANGUAGE = "en"


def is_supported(language: str) -> bool:
    return language in dict(settings.LANGUAGES)


def language_remember(row: Any, language: str) -> None:
    """Stores on `row` (an agent, a citizen: any model with a `language` field) the language of the
    pages its person uses, when it is one of the gateway's and has changed (a preference, not an
    action: no event)."""
    if is_supported(language) and row.language != language:
        type(row)._default_manager.filter(pk=row.pk).update(language=language)
        row.language = language


def speaks_to_a_machine(request: HttpRequest) -> bool:
    """An API call rather than a page: under /api/ and not asking for HTML (the error catalogue's
    pages and the API's browsable docs are read by people, in their language)."""
    return request.path_info.startswith("/api/") and "text/html" not in request.headers.get("Accept", "")


class GatewayLocaleMiddleware(LocaleMiddleware):
    """Django's: pages in the person's language (French by default). The API's texts for machines
    (problem+json titles, details and field messages, DRF's included) stay in English, as the
    README says: a client sending `Accept-Language: fr`, or none, must not get some messages in
    French and others in English."""

    def process_request(self, request: HttpRequest) -> None:
        if speaks_to_a_machine(request):
            translation.activate(API_LANGUAGE)
            request.LANGUAGE_CODE = API_LANGUAGE
            return
        super().process_request(request)
