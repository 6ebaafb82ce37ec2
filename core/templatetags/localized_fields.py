"""Catalogue data (attestation titles, field and purpose labels) is stored once per language, as
`<name>_fr` and `<name>_en`: these filters read the one for the active language. UI text goes
through gettext instead."""

from __future__ import annotations

from typing import Any

from django import template
from django.conf import settings
from django.utils.translation import get_language

register = template.Library()


def _suffixes() -> tuple[str, str]:
    """The active language's suffix, then the default language's (French data is never missing)."""
    default = settings.LANGUAGE_CODE.split("-")[0]
    return (get_language() or default).split("-")[0], default


@register.filter
def localized(obj: Any, field: str) -> Any:
    """`type|localized:"title"` reads `title_en` in English, `title_fr` in French or when empty."""
    active, default = _suffixes()
    return getattr(obj, f"{field}_{active}", None) or getattr(obj, f"{field}_{default}", "")


@register.filter
def localized_lang(obj: Any, field: str) -> str:
    """The language of what `localized` shows: the default one when the active language's text is
    missing, so that the page can mark it (`lang="fr"`) for screen readers."""
    active, default = _suffixes()
    return active if getattr(obj, f"{field}_{active}", None) else default


@register.filter
def localized_key(mapping: dict[str, Any], field: str) -> Any:
    """The same for dicts: `purpose|localized_key:"label"` reads `label_en` or `label_fr`."""
    active, default = _suffixes()
    return mapping.get(f"{field}_{active}") or mapping.get(f"{field}_{default}", "")
