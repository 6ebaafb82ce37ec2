"""The citizen's consents: list by status, detail, pause / resume / revoke, receipt."""

from __future__ import annotations

import json
import uuid

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from consent.auth import citizen_required, required_citizen
from consent.models import Consent
from consent.selectors import consent_get_for_citizen, consents_for_citizen
from consent.services import consent_pause, consent_resume, consent_revoke
from consent.services.artefacts import consent_receipt
from consent.services.trail import citizen_actor
from consent.terms import terms_for_consent
from consent.views import CitizenTransition, not_found_as_404
from core.errors import GatewayError

Status = Consent.Status

# The order and headings of the list: what is in force first, what has ended last.
GROUPS = [
    (Status.ACTIVE, pgettext_lazy("consents", "Active")),
    (Status.PAUSED, pgettext_lazy("consents", "Paused")),
    (Status.PENDING, pgettext_lazy("consents", "Pending")),
    (Status.REJECTED, pgettext_lazy("consents", "Rejected")),
    (Status.REVOKED, pgettext_lazy("consents", "Withdrawn")),
    (Status.EXPIRED, pgettext_lazy("consents", "Expired")),
]


@require_GET
@never_cache
@citizen_required
def dashboard(request: HttpRequest) -> HttpResponse:
    consents = list(consents_for_citizen(citizen=required_citizen(request)))
    groups = []
    for status, title in GROUPS:
        members = [consent for consent in consents if consent.status == status]
        if members:
            groups.append({"status": status, "title": title, "consents": members})
    return render(request, "consent/dashboard.html", {"title": _("My consents"), "groups": groups})


def _consent_page(
    request: HttpRequest, consent: Consent, template: str, title: str, *, error: GatewayError | None = None
) -> HttpResponse:
    context = {"title": title, "consent": consent, "terms": terms_for_consent(consent), "error": error}
    return render(request, template, context, status=error.status if error else 200)


def _detail(request: HttpRequest, consent: Consent, *, error: GatewayError | None = None) -> HttpResponse:
    return _consent_page(request, consent, "consent/detail.html", _("Consent"), error=error)


@require_GET
@never_cache
@citizen_required
@not_found_as_404
def detail(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    return _detail(request, consent_get_for_citizen(citizen=required_citizen(request), consent_id=consent_id))


def _change(request: HttpRequest, consent_id: uuid.UUID, change: CitizenTransition) -> HttpResponse:
    """Pause or resume, then back to the detail page; a refusal shows it with the reason."""
    citizen = required_citizen(request)
    consent = consent_get_for_citizen(citizen=citizen, consent_id=consent_id)
    try:
        change(consent=consent, citizen=citizen)
    except GatewayError as error:
        return _detail(request, consent_get_for_citizen(citizen=citizen, consent_id=consent_id), error=error)
    return HttpResponseRedirect(reverse("consent:detail", args=[consent.pk]))


@require_POST
@citizen_required
@not_found_as_404
def pause(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    return _change(request, consent_id, consent_pause)


@require_POST
@citizen_required
@not_found_as_404
def resume(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    return _change(request, consent_id, consent_resume)


@require_http_methods(["GET", "POST"])
@never_cache
@citizen_required
@not_found_as_404
def revoke(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    """GET asks to confirm (withdrawing cannot be undone); POST withdraws."""
    citizen = required_citizen(request)
    consent = consent_get_for_citizen(citizen=citizen, consent_id=consent_id)
    error = None
    if request.method == "POST":
        try:
            consent_revoke(consent=consent, actor=citizen_actor(citizen), reason="citizen")
        except GatewayError as exc:
            error = exc
        else:
            return HttpResponseRedirect(reverse("consent:detail", args=[consent.pk]))
    return _consent_page(request, consent, "consent/revoke_confirm.html", _("Withdraw my consent"), error=error)


@require_GET
@never_cache
@citizen_required
@not_found_as_404
def receipt(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    consent = consent_get_for_citizen(citizen=required_citizen(request), consent_id=consent_id)
    body = json.dumps(consent_receipt(consent=consent), ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="recu-consentement-{consent.pk}.json"'
    return response
