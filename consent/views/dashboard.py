"""The citizen's consents: list by status, detail, pause / resume / revoke, receipt."""

from __future__ import annotations

import json
import uuid
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from audit.selectors import Accesses, accesses_for_citizen
from consent.auth import citizen_required, required_citizen
from consent.forms import CompanyForm
from consent.models import Consent
from consent.presentation import accesses_sentence, status_sentence
from consent.selectors import consent_get_for_citizen, consents_for_citizen
from consent.services import consent_pause, consent_resume, consent_revoke
from consent.services.artefacts import consent_receipt
from consent.services.representation import acting_choices
from consent.services.trail import citizen_actor
from consent.terms import purpose_of, terms_for_consent
from consent.views import CitizenTransition, not_found_as_404, post_only
from core.errors import GatewayError

Status = Consent.Status

# The sections of the list: what waits for the citizen first, what has ended last.
GROUPS = [
    ("waiting", gettext_lazy("Waiting for your decision"), {Status.PENDING}),
    ("in-force", gettext_lazy("In force"), {Status.ACTIVE, Status.PAUSED}),
    ("ended", gettext_lazy("Ended"), {Status.REJECTED, Status.REVOKED, Status.EXPIRED}),
]
ENDED = {Status.REJECTED, Status.REVOKED, Status.EXPIRED}


def _described(consent: Consent, accesses: dict[uuid.UUID, Accesses]) -> dict[str, Any]:
    return {
        "consent": consent,
        "purpose": purpose_of(consent),
        "status_sentence": status_sentence(consent),
        "accesses": accesses_sentence(accesses.get(consent.pk)),
    }


@require_GET
@never_cache
@citizen_required
def dashboard(request: HttpRequest) -> HttpResponse:
    citizen = required_citizen(request)
    consents = list(consents_for_citizen(citizen=citizen))
    accesses = accesses_for_citizen(citizen_ref=citizen.ref, consent_ids=[consent.pk for consent in consents])
    groups = []
    for key, title, statuses in GROUPS:
        members = [_described(consent, accesses) for consent in consents if consent.status in statuses]
        if members:
            groups.append({"key": key, "title": title, "entries": members})
    context = {
        "title": _("My consents"),
        "groups": groups,
        "citizen": citizen,
        # The "acting for" switch: their own account (this page), the companies they represent or
        # hold a delegation for, the people they hold a legal mandate for.
        "acting_for": acting_choices(citizen=citizen),
        "company_form": CompanyForm(),
    }
    return render(request, "consent/dashboard.html", context)


def _consent_page(
    request: HttpRequest, consent: Consent, template: str, title: str, *, error: GatewayError | None = None
) -> HttpResponse:
    citizen = required_citizen(request)
    accesses = accesses_for_citizen(citizen_ref=citizen.ref, consent_ids=[consent.pk])
    context = {
        "title": title,
        "terms": terms_for_consent(consent),
        "ended": consent.status in ENDED,
        "error": error,
        "citizen": citizen,
        **_described(consent, accesses),
    }
    return render(request, template, context, status=error.status if error else 200)


def _detail(request: HttpRequest, consent: Consent, *, error: GatewayError | None = None) -> HttpResponse:
    return _consent_page(request, consent, "consent/detail.html", _("Consent"), error=error)


@require_GET
@never_cache
@citizen_required
@not_found_as_404
def detail(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    return _detail(request, consent_get_for_citizen(citizen=required_citizen(request), consent_id=consent_id))


def _change(request: HttpRequest, consent_id: uuid.UUID, change: CitizenTransition, done: str) -> HttpResponse:
    """Pause or resume, then back to the detail page saying it is done; a refusal shows it with
    the reason."""
    citizen = required_citizen(request)
    consent = consent_get_for_citizen(citizen=citizen, consent_id=consent_id)
    try:
        change(consent=consent, citizen=citizen)
    except GatewayError as error:
        return _detail(request, consent_get_for_citizen(citizen=citizen, consent_id=consent_id), error=error)
    messages.success(request, done % {"consumer": consent.consumer.name})
    return HttpResponseRedirect(reverse("consent:detail", args=[consent.pk]))


@post_only("consent:detail", "consent_id")
@citizen_required
@not_found_as_404
def pause(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    done = _("Consent paused: %(consumer)s can no longer obtain your data until you resume it.")
    return _change(request, consent_id, consent_pause, done)


@post_only("consent:detail", "consent_id")
@citizen_required
@not_found_as_404
def resume(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    done = _("Consent resumed: %(consumer)s may obtain your data again.")
    return _change(request, consent_id, consent_resume, done)


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
            done = _("Consent withdrawn: %(consumer)s can no longer obtain your data.")
            messages.success(request, done % {"consumer": consent.consumer.name})
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
