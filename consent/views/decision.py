"""What the citizen's decision pages share: the approval page of the decoupled flow and the OAuth
consent screen (gateway.oauth.views) show the same terms, level check and preview."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.urls import reverse

from consent.auth import current_level, login_url
from consent.presentation import value_shown
from consent.services import PreviewItem
from consent.terms import Terms
from providers.models import EidasLevel
from providers.rules import eidas_satisfies


def preview_blocks(terms: Terms, preview: list[PreviewItem]) -> list[dict[str, Any]]:
    """One list of values (or one error) per type, in the terms' order, for
    consent/includes/preview.html; each value formatted for people (consent.presentation)."""
    by_type = {result.item.attestation_type_id: result for result in preview}
    blocks = []
    for item in terms.items:
        result = by_type.get(item.attestation_type.pk)
        if result is None:
            continue
        rows = (
            [(field, value_shown(result.fields.get(field.name), field.json_schema())) for field in item.fields]
            if not result.error
            else []
        )
        blocks.append({"item": item, "error": result.error, "rows": rows})
    return blocks


def decision_context(
    request: HttpRequest, terms: Terms, *, preview: list[PreviewItem] | None, relogin_next: str
) -> dict[str, Any]:
    """The terms, the login level against them (and where to log in again, back to
    `relogin_next`), and the preview when there is one."""
    level = current_level(request)
    blocks = preview_blocks(terms, preview) if preview is not None else None
    return {
        "terms": terms,
        "level": level,
        "level_label": EidasLevel(level).label if level in EidasLevel.values else "",
        "level_ok": eidas_satisfies(level, terms.eidas_min),
        "relogin_url": login_url(relogin_next, level=terms.eidas_min),
        "preview": blocks,
        # A provider with no record of the citizen: approving would share nothing useful, so the
        # page offers only to refuse or to close.
        "nothing_found": any(block["error"] == "subject_not_found" for block in blocks or []),
        # ...while another holds some: the page says part was found, not that nothing was.
        "found_some": any(not block["error"] for block in blocks or []),
        "close_url": reverse("consent:dashboard"),
    }
