"""The approval page: the citizen sees the terms, may preview the data, then approves or rejects."""

from __future__ import annotations

import json
import uuid
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from consent.auth import citizen_required, current_citizen, current_level, login_url
from consent.models import Citizen, Consent
from consent.selectors import consent_get_pending
from consent.services import (
    PreviewItem,
    consent_approve,
    consent_preview,
    consent_reject,
)
from consent.terms import Terms, terms_for_consent
from consent.views import not_found_as_404
from gateway.errors import GatewayError
from providers.models import EidasLevel


def _display(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "Oui / Yes" if value else "Non / No"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, indent=1)
    return str(value)


def _preview_blocks(terms: Terms, preview: list[PreviewItem]) -> list[dict[str, Any]]:
    by_type = {result.item.attestation_type_id: result for result in preview}
    blocks = []
    for item in terms.items:
        result = by_type.get(item.attestation_type.pk)
        if result is None:
            continue
        rows = [(field, _display(result.fields.get(field.name))) for field in item.fields] if not result.error else []
        blocks.append({"item": item, "error": result.error, "rows": rows})
    return blocks


def _render(
    request: HttpRequest,
    consent: Consent,
    *,
    preview: list[PreviewItem] | None = None,
    error: GatewayError | None = None,
    status: int = 200,
) -> HttpResponse:
    terms = terms_for_consent(consent)
    level = current_level(request)
    citizen = current_citizen(request)
    level_ok = EidasLevel.rank(level) >= EidasLevel.rank(terms.eidas_min)
    context = {
        "title": "Demande de consentement",
        "consent": consent,
        "terms": terms,
        "decidable": consent.status == Consent.Status.PENDING,
        "decided_by_me": citizen is not None and consent.citizen_id == citizen.pk,
        "level": level,
        "level_label": EidasLevel(level).label if level in EidasLevel.values else "",
        "level_ok": level_ok,
        "relogin_url": login_url(request.path, level=terms.eidas_min),
        "preview": _preview_blocks(terms, preview) if preview is not None else None,
        "error": error,
    }
    # The views are never_cache: the preview shows personal data no cache may keep.
    return render(request, "consent/approval.html", context, status=status)


def _decision_redirect(consent: Consent) -> HttpResponse:
    if consent.return_url:
        parts = urlsplit(consent.return_url)
        query = urlencode({"consent": str(consent.pk), "status": consent.status})
        target = urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))
        return HttpResponseRedirect(target)
    return HttpResponseRedirect(reverse("consent:detail", args=[consent.pk]))


def _citizen(request: HttpRequest) -> Citizen:
    citizen = current_citizen(request)
    assert citizen is not None  # citizen_required
    return citizen


@require_GET
@never_cache
@citizen_required
@not_found_as_404
def approval(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    return _render(request, consent_get_pending(consent_id=consent_id))


@require_POST
@never_cache
@citizen_required
@not_found_as_404
def approval_preview(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    consent = consent_get_pending(consent_id=consent_id)
    try:
        preview = consent_preview(consent=consent, citizen=_citizen(request), eidas_level=current_level(request))
    except GatewayError as error:
        return _render(request, consent, error=error, status=error.status)
    return _render(request, consent, preview=preview)


@require_POST
@citizen_required
@not_found_as_404
def approval_approve(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    consent = consent_get_pending(consent_id=consent_id)
    try:
        consent = consent_approve(consent=consent, citizen=_citizen(request), eidas_level=current_level(request))
    except GatewayError as error:
        return _render(request, consent_get_pending(consent_id=consent_id), error=error, status=error.status)
    return _decision_redirect(consent)


@require_POST
@citizen_required
@not_found_as_404
def approval_reject(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    consent = consent_get_pending(consent_id=consent_id)
    try:
        consent = consent_reject(consent=consent, citizen=_citizen(request))
    except GatewayError as error:
        return _render(request, consent_get_pending(consent_id=consent_id), error=error, status=error.status)
    return _decision_redirect(consent)
