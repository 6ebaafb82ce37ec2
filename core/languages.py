"""The language a person reads the gateway in, remembered for the e-mails they will get."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def is_supported(language: str) -> bool:
    return language in dict(settings.LANGUAGES)


def language_remember(row: Any, language: str) -> None:
    """Stores on `row` (an agent, a citizen: any model with a `language` field) the language of the
    pages its person uses, when it is one of the gateway's and has changed (a preference, not an
    action: no event)."""
    if is_supported(language) and row.language != language:
        type(row)._default_manager.filter(pk=row.pk).update(language=language)
        row.language = language
