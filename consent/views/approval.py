"""The approval page: the citizen sees the terms, may preview the data, then approves or rejects."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from consent.auth import citizen_required, current_citizen, current_level, required_citizen
from consent.forms import OneTimeCodeForm
from consent.models import Citizen, Consent
from consent.rules import ActingGround, ActingRefused, awaits_code
from consent.selectors import consent_get_pending
from consent.services import (
    PreviewItem,
    consent_approve,
    consent_preview,
    consent_reject,
    consent_request_open,
)
from consent.services.representation import APPROVE, acting_for_company, acting_for_person, principal_for_request
from consent.terms import terms_for_consent
from consent.views import acting_refused_as_page, not_found_as_404, post_only
from consent.views.codes import code_page
from consent.views.decision import decision_context
from core.errors import GatewayError, NotFound


def _render(
    request: HttpRequest,
    consent: Consent,
    *,
    preview: list[PreviewItem] | None = None,
    error: GatewayError | None = None,
    acting: ActingGround | None = None,
    principal: Citizen | None = None,
) -> HttpResponse:
    terms = terms_for_consent(consent)
    citizen = current_citizen(request)
    context = {
        "title": _("Consent request"),
        "consent": consent,
        "acting": acting,
        "company": consent.company,
        "principal": principal,
        "decidable": consent.status == Consent.Status.PENDING,
        "consent_page": _consent_page(consent, citizen),
        **decision_context(request, terms, preview=preview, relogin_next=request.path),
        "error": error,
    }
    # The views are never_cache: the preview shows personal data no cache may keep.
    return render(request, "consent/approval.html", context, status=error.status if error else 200)


def _consent_page(consent: Consent, citizen: Citizen | None) -> str:
    """Where whoever decided this request finds the consent now: the company's page, their own
    consent, or the page of the person they act for; "" for anyone else."""
    if citizen is None:
        return ""
    if consent.company is not None:
        return reverse("consent:company", args=[consent.company.siren]) if consent.actor_id == citizen.pk else ""
    if consent.citizen_id == citizen.pk:
        return reverse("consent:detail", args=[consent.pk])
    if consent.actor_id == citizen.pk and consent.mandate_id is not None:
        return reverse("consent:principal", args=[consent.mandate_id])
    return ""


def _decision_redirect(request: HttpRequest, consent: Consent) -> HttpResponse:
    if consent.return_url:
        parts = urlsplit(consent.return_url)
        query = urlencode({"consent": str(consent.pk), "status": consent.status})
        target = urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))
        return HttpResponseRedirect(target)
    # Said on the gateway's own next page only: a return to the administration's service would
    # leave it waiting for a later visit.
    names = {"consumer": consent.consumer.name}
    if consent.company is None and consent.mandate_id is not None and consent.citizen_id != consent.actor_id:
        # Decided for someone else under a legal mandate: the message names them.
        names["name"] = consent.citizen.display_name if consent.citizen else ""
        if consent.status == Consent.Status.ACTIVE:
            done = _("Consent given for %(name)s: %(consumer)s may now obtain the data of the request.")
        else:
            done = _("Request refused for %(name)s: %(consumer)s will not obtain their data.")
    elif consent.status == Consent.Status.ACTIVE:
        done = _("Consent given: %(consumer)s may now obtain the data below.")
    else:
        done = _("Request refused: %(consumer)s will not obtain your data.")
    messages.success(request, done % names)
    # The company's page, the person's own consent, or the page of the person acted for.
    return HttpResponseRedirect(_consent_page(consent, required_citizen(request)))


@require_GET
@never_cache
@citizen_required
@not_found_as_404
@acting_refused_as_page
def approval(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    consent = consent_get_pending(consent_id=consent_id)
    if consent.status == Consent.Status.PENDING and awaits_code(code_ref=consent.code_ref, bound_to=consent.citizen_id):
        # Addressed by a one-time code nobody entered yet: the link asks for it first.
        return code_page(request, OneTimeCodeForm(), consent=consent)
    opened = _opened(request, consent)
    return _render(request, opened.consent, acting=opened.acting, principal=opened.principal)


@dataclass(frozen=True)
class _Opened:
    consent: Consent
    # None: the person decides for themselves.
    acting: ActingGround | None = None
    # The person acted for under a legal mandate.
    principal: Citizen | None = None


def _opened(request: HttpRequest, consent: Consent) -> _Opened:
    """The request, if this citizen may see it (binding it to them if nobody opened it yet); a
    company's request only to someone who may decide it for the company, asked now (the register
    live, or a mandate in force); a person's request also to whoever holds a legal mandate for
    them; with the ground they act on."""
    citizen = required_citizen(request)
    types = [item.attestation_type.slug for item in consent.items.all()]
    if consent.company is not None:
        return _Opened(
            consent, acting_for_company(citizen=citizen, company=consent.company, action=APPROVE, types=types)
        )
    try:
        return _Opened(consent_request_open(consent=consent, citizen=citizen))
    except NotFound:
        principal = principal_for_request(consent=consent, agent=citizen)
        if principal is None:
            raise
        acting = acting_for_person(citizen=citizen, principal=principal, action=APPROVE, types=types)
        return _Opened(consent, acting, principal)


@post_only("consent:approval", "consent_id")
@never_cache
@citizen_required
@not_found_as_404
@acting_refused_as_page
def approval_preview(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    opened = _opened(request, consent_get_pending(consent_id=consent_id))
    consent, acting, principal = opened.consent, opened.acting, opened.principal
    try:
        preview = consent_preview(
            consent=consent,
            citizen=principal or required_citizen(request),
            eidas_level=current_level(request),
            actor=required_citizen(request),
        )
    except GatewayError as error:
        return _render(request, consent, error=error, acting=acting, principal=principal)
    return _render(request, consent, preview=preview, acting=acting, principal=principal)


def _decide(request: HttpRequest, consent_id: uuid.UUID, *, approve: bool) -> HttpResponse:
    """Approve or reject; a refusal shows the page again, as it is now, with the reason."""
    opened = _opened(request, consent_get_pending(consent_id=consent_id))
    consent, acting, principal = opened.consent, opened.acting, opened.principal
    citizen = required_citizen(request)
    try:
        if approve:
            consent = consent_approve(
                consent=consent,
                citizen=citizen,
                eidas_level=current_level(request),
                acting=acting,
                principal=principal,
            )
        else:
            consent = consent_reject(consent=consent, citizen=citizen, acting=acting, principal=principal)
    except ActingRefused:
        raise
    except GatewayError as error:
        return _render(
            request, consent_get_pending(consent_id=consent_id), error=error, acting=acting, principal=principal
        )
    return _decision_redirect(request, consent)


@post_only("consent:approval", "consent_id")
@citizen_required
@not_found_as_404
@acting_refused_as_page
def approval_approve(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    return _decide(request, consent_id, approve=True)


@post_only("consent:approval", "consent_id")
@citizen_required
@not_found_as_404
@acting_refused_as_page
def approval_reject(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    return _decide(request, consent_id, approve=False)
