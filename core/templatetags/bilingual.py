"""French/English text without gettext catalogues: each template states both languages side by
side, and the active language (LocaleMiddleware, the language switch) picks one."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import get_language

register = template.Library()


def _is_english() -> bool:
    return (get_language() or "fr").startswith("en")


@register.simple_tag
def tr(french: str, english: str) -> str:
    return english if _is_english() else french


@register.filter
def localized(obj: Any, field: str) -> Any:
    """`type|localized:"title"` reads `title_en` or `title_fr`."""
    suffix = "en" if _is_english() else "fr"
    return getattr(obj, f"{field}_{suffix}", None) or getattr(obj, f"{field}_fr", "")


@register.filter
def localized_key(mapping: dict[str, Any], field: str) -> Any:
    """The same for dicts: `purpose|localized_key:"label"` reads `label_en` or `label_fr`."""
    suffix = "en" if _is_english() else "fr"
    return mapping.get(f"{field}_{suffix}") or mapping.get(f"{field}_fr", "")
