"""Acting for a company: its page (requests, consents, delegations), its history with proofs,
delegating, and accepting a delegation. Every page checks, when it is shown and at each action,
that the person may act for the company (consent.services.representation), and says on what
ground they do."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from audit.selectors import proof_bundle
from consent.auth import citizen_required, required_citizen
from consent.forms import CompanyForm, DelegationForm
from consent.models import Citizen, Company, Consent, Ground, Mandate
from consent.rules import ActingGround, ActingRefused, mandate_in_force
from consent.selectors import (
    consent_get_for_citizen,
    consent_get_for_company,
    consents_for_citizen,
    consents_for_company,
)
from consent.services import consent_revoke
from consent.services.artefacts import consent_receipt
from consent.services.representation import (
    READ_HISTORY,
    REVOKE,
    acting_for_company,
    acting_for_person,
    company_access,
    company_get,
    company_register,
    mandate_accept,
    mandate_delegate,
    mandate_invitation_get,
    mandate_revoke,
    mandate_terms,
)
from consent.services.trail import citizen_actor
from consent.views import acting_refused_as_page, not_found_as_404, post_only
from consent.views.history import history_entries, history_page
from core.errors import GatewayError, NotFound, ValidationError
from core.templatetags.localized_fields import localized
from providers.models import AttestationType

Status = Consent.Status


def _company_types() -> list[tuple[str, str]]:
    return [
        (kind.slug, str(localized(kind, "title")))
        for kind in AttestationType.objects.filter(subject_kind=AttestationType.SubjectKind.COMPANY, active=True)
        .exclude(slug="inpi.mandataires-sociaux")
        .order_by("slug")
    ]


def _held(acting: ActingGround) -> Mandate | None:
    """The delegation a delegate acts under (None for a legal representative)."""
    return Mandate.objects.filter(pk=acting.mandate_id).first() if acting.mandate_id else None


def _covered(consent: Consent, held: Mandate) -> bool:
    return {item.attestation_type.slug for item in consent.items.all()} <= set(held.attestation_types)


def _delegation_form(data: Any, held: Mandate | None, types: list[tuple[str, str]] | None = None) -> DelegationForm:
    """The delegation form, offering what the person delegating holds (everything for a legal
    representative) of the company types (`types`, read here when not given)."""
    types = _company_types() if types is None else types
    if held is None:
        return DelegationForm(data, types=types)
    return DelegationForm(
        data, types=[(slug, title) for slug, title in types if slug in held.attestation_types], actions=held.actions
    )


def _page(
    request: HttpRequest,
    company: Company,
    acting: ActingGround,
    *,
    form: DelegationForm | None = None,
    invitation_url: str = "",
    error: GatewayError | None = None,
) -> HttpResponse:
    citizen = required_citizen(request)
    consents = list(consents_for_company(company=company))
    held = _held(acting)
    # A representative sees every delegation of the company; a delegate, those they granted.
    delegations = Mandate.objects.filter(principal_company=company).select_related("agent", "granted_by")
    if acting.ground != Ground.LEGAL_REPRESENTATIVE:
        delegations = delegations.filter(granted_by=citizen)
    types = _company_types()
    titles = dict(types)
    if held is not None:
        # A delegate sees, and may pass on, only what their own delegation covers.
        consents = [consent for consent in consents if _covered(consent, held)]
    context: dict[str, Any] = {
        "title": company.name,
        "company": company,
        "acting": acting,
        "held": held,
        "pending": [consent for consent in consents if consent.status == Status.PENDING],
        "in_force": [consent for consent in consents if consent.status in (Status.ACTIVE, Status.PAUSED)],
        "ended": [
            consent for consent in consents if consent.status not in (Status.PENDING, Status.ACTIVE, Status.PAUSED)
        ],
        "delegations": [
            {"mandate": mandate, "types": [titles.get(slug, slug) for slug in mandate.attestation_types]}
            for mandate in delegations.order_by("-created_at")
        ],
        "may_read_history": held is None or READ_HISTORY in held.actions,
        "may_revoke": held is None or REVOKE in held.actions,
        "form": form or _delegation_form(None, held, types),
        "invitation_url": invitation_url,
        "error": error,
    }
    return render(request, "consent/company.html", context, status=error.status if error else 200)


@post_only("consent:dashboard")
@citizen_required
def company_add(request: HttpRequest) -> HttpResponse:
    """The person names a company they represent; the register is asked at once."""
    form = CompanyForm(request.POST)
    if form.is_valid():
        try:
            company, check = company_register(citizen=required_citizen(request), siret=form.cleaned_data["siret"])
        except ValidationError as error:
            reason = error.extra.get("errors", {}).get("subject.siret", [{}])[0].get("code", "")
            texts = {
                "invalid_siret": _("This SIRET is not valid: check its 14 digits."),
                "company_closed": _("This company is closed."),
                "unknown_company": _("No company with this SIRET is known to the companies register."),
            }
            messages.error(request, texts.get(reason, _("This SIRET cannot be used.")))
        except GatewayError:
            messages.error(request, _("The companies register could not be reached. Try again in a moment."))
        else:
            if check.listed:
                return HttpResponseRedirect(reverse("consent:company", args=[company.siren]))
            messages.error(
                request, _("The companies register does not list you as a legal representative of this company.")
            )
    else:
        messages.error(request, _("Enter the company's SIRET."))
    return HttpResponseRedirect(reverse("consent:dashboard") + "#acting-for")


@require_GET
@never_cache
@citizen_required
@not_found_as_404
@acting_refused_as_page
def company(request: HttpRequest, siren: str) -> HttpResponse:
    found = company_get(siren=siren)
    acting = company_access(citizen=required_citizen(request), company=found)
    return _page(request, found, acting, invitation_url=request.session.pop(_invitation_key(found), ""))


@post_only("consent:company", "siren")
@never_cache
@citizen_required
@not_found_as_404
@acting_refused_as_page
def company_delegate(request: HttpRequest, siren: str) -> HttpResponse:
    found = company_get(siren=siren)
    citizen = required_citizen(request)
    acting = company_access(citizen=citizen, company=found)
    form = _delegation_form(request.POST, _held(acting))
    if not form.is_valid():
        return _page(request, found, acting, form=form, error=ValidationError())
    data = form.cleaned_data
    until = dt.datetime.combine(data["valid_until"], dt.time(23, 59, 59), tzinfo=timezone.get_current_timezone())
    try:
        delegation = mandate_delegate(
            grantor=citizen,
            company=found,
            acting=acting,
            types=data["attestation_types"],
            actions=data["actions"],
            valid_until=until,
        )
    except ValidationError as error:
        code = error.extra.get("errors", {}).get("delegation", [{}])[0].get("code", "")
        texts = {
            "more_than_held": _("You cannot delegate more than you hold."),
            "beyond_end": _("You cannot delegate beyond the end of your own mandate."),
            "ends_in_past": _("The last day must be in the future."),
            "too_long": _("A delegation lasts three years at most: choose an earlier last day."),
            "company_closed": _("This company is closed: nobody can be given a new delegation for it."),
        }
        form.add_error(None, texts.get(code, _("This delegation cannot be granted.")))
        return _page(request, found, acting, form=form, error=error)
    # Shown once, on the company's page the browser is sent to: reloading it creates nothing more.
    url = settings.GATEWAY_BASE_URL + reverse("consent:invitation", args=[delegation.invitation_code])
    request.session[_invitation_key(found)] = url
    return HttpResponseRedirect(reverse("consent:company", args=[found.siren]) + "#invitation")


def _invitation_key(company: Company) -> str:
    return f"consent.invitation.{company.siren}"


@post_only("consent:company", "siren")
@citizen_required
@not_found_as_404
@acting_refused_as_page
def company_mandate_revoke(request: HttpRequest, siren: str, mandate_id: str) -> HttpResponse:
    found = company_get(siren=siren)
    citizen = required_citizen(request)
    acting = company_access(citizen=citizen, company=found)
    mandate = Mandate.objects.filter(pk=mandate_id, principal_company=found).first()
    if mandate is None:
        raise Http404
    mandate_revoke(mandate=mandate, by=citizen, acting=acting)
    messages.success(request, _("Delegation withdrawn: its holder can no longer act for the company."))
    return HttpResponseRedirect(reverse("consent:company", args=[found.siren]))


@post_only("consent:company", "siren")
@citizen_required
@not_found_as_404
@acting_refused_as_page
def company_consent_revoke(request: HttpRequest, siren: str, consent_id: str) -> HttpResponse:
    found = company_get(siren=siren)
    citizen = required_citizen(request)
    consent = consent_get_for_company(company=found, consent_id=consent_id)
    types = [item.attestation_type.slug for item in consent.items.all()]
    acting = acting_for_company(citizen=citizen, company=found, action=REVOKE, types=types)
    try:
        consent_revoke(consent=consent, actor=citizen_actor(citizen), reason="citizen", acting=acting, by=citizen)
    except GatewayError:
        messages.error(request, _("This consent can no longer be withdrawn."))
    else:
        done = _("Consent withdrawn: %(consumer)s can no longer obtain the company's data.")
        messages.success(request, done % {"consumer": consent.consumer.name})
    return HttpResponseRedirect(reverse("consent:company", args=[found.siren]))


@require_GET
@never_cache
@citizen_required
@not_found_as_404
@acting_refused_as_page
def company_receipt(request: HttpRequest, siren: str, consent_id: str) -> HttpResponse:
    """The consent's receipt (ISO/IEC TS 27560), with its artefact: who decided, on what ground."""
    found = company_get(siren=siren)
    company_access(citizen=required_citizen(request), company=found)
    consent = consent_get_for_company(company=found, consent_id=consent_id)
    body = json.dumps(consent_receipt(consent=consent), ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="recu-consentement-{consent.pk}.json"'
    return response


@require_GET
@never_cache
@citizen_required
@not_found_as_404
@acting_refused_as_page
def company_history(request: HttpRequest, siren: str) -> HttpResponse:
    found = company_get(siren=siren)
    acting = acting_for_company(citizen=required_citizen(request), company=found, action=READ_HISTORY, types=())
    page = history_page(request, subject_ref=found.ref)
    context = {
        "title": _("History of the company's data"),
        "company": found,
        "acting": acting,
        "entries": history_entries(page.rows, company=True),
        "next_before": page.next_before,
        "paged": page.paged,
    }
    return render(request, "consent/company_history.html", context)


@require_GET
@never_cache
@citizen_required
@not_found_as_404
@acting_refused_as_page
def company_proof(request: HttpRequest, siren: str, event_id: int) -> HttpResponse:
    found = company_get(siren=siren)
    acting_for_company(citizen=required_citizen(request), company=found, action=READ_HISTORY, types=())
    if event_id >= 2**63:
        raise Http404
    bundle = proof_bundle(event_id=event_id, citizen_ref=found.ref)
    response = HttpResponse(json.dumps(bundle, ensure_ascii=False, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="preuve-{event_id}.json"'
    return response


@require_http_methods(["GET", "POST"])
@never_cache
@citizen_required
@not_found_as_404
def invitation(request: HttpRequest, code: str) -> HttpResponse:
    """The person a representative handed the link to sees what they are offered, and accepts."""
    try:
        mandate = mandate_invitation_get(code=code)
    except NotFound:
        # Accepted already (the gateway then forgets the link), withdrawn, or never given.
        gone: dict[str, Any] = {"title": _("This invitation link no longer works")}
        return render(request, "consent/invitation_gone.html", gone, status=404)
    error = None
    if request.method == "POST":
        try:
            accepted = mandate_accept(code=code, citizen=required_citizen(request))
        except ValidationError as exc:
            error = exc
        else:
            assert accepted.principal_company is not None
            messages.success(request, _("Delegation accepted: you may now act for this company within its limits."))
            return HttpResponseRedirect(reverse("consent:company", args=[accepted.principal_company.siren]))
    titles = dict(_company_types())
    context = {
        "title": _("Delegation to act for a company"),
        "mandate": mandate,
        "types": [titles.get(slug, slug) for slug in mandate.attestation_types],
        "actions": [Mandate.Action(action).label for action in mandate.actions],
        "error": error,
    }
    return render(request, "consent/invitation.html", context, status=400 if error else 200)


@require_GET
@never_cache
@citizen_required
@not_found_as_404
@acting_refused_as_page
def principal_history(request: HttpRequest, mandate_id: str) -> HttpResponse:
    """The history of a person the logged-in person acts for under a legal mandate (`read_history`)."""
    principal = _principal(request, mandate_id)
    page = history_page(request, subject_ref=principal.ref)
    context = {
        "title": _("History of the data of the person you act for"),
        "principal": principal,
        "mandate_id": mandate_id,
        "entries": history_entries(page.rows, principal=True),
        "next_before": page.next_before,
        "paged": page.paged,
    }
    return render(request, "consent/principal_history.html", context)


def _principal(request: HttpRequest, mandate_id: str, action: str = READ_HISTORY) -> Citizen:
    """The person the logged-in person acts for under this legal mandate, if it lets them do
    `action` now (ActingRefused otherwise; Http404 for someone else's mandate)."""
    return _acting_for_principal(request, mandate_id, action)[0]


def _acting_for_principal(
    request: HttpRequest, mandate_id: str, action: str, types: tuple[str, ...] = ()
) -> tuple[Citizen, ActingGround, Mandate]:
    citizen = required_citizen(request)
    mandate = (
        Mandate.objects.filter(pk=mandate_id, agent=citizen, kind=Mandate.Kind.LEGAL)
        .select_related("principal_citizen")
        .first()
    )
    if mandate is None or mandate.principal_citizen is None:
        raise Http404
    acting = acting_for_person(citizen=citizen, principal=mandate.principal_citizen, action=action, types=types)
    return mandate.principal_citizen, acting, mandate


@require_GET
@never_cache
@citizen_required
@not_found_as_404
@acting_refused_as_page
def principal_page(request: HttpRequest, mandate_id: str) -> HttpResponse:
    """The consents of a person the logged-in person acts for under a legal mandate."""
    citizen = required_citizen(request)
    mandate = (
        Mandate.objects.filter(pk=mandate_id, agent=citizen, kind=Mandate.Kind.LEGAL)
        .select_related("principal_citizen")
        .first()
    )
    if mandate is None or mandate.principal_citizen is None:
        raise Http404
    if not mandate_in_force(mandate_terms(mandate), timezone.now()):
        raise ActingRefused(
            "Your mandate has ended or been withdrawn.", extra={"reason": "mandate_ended", "subject": "person"}
        )
    principal = mandate.principal_citizen
    consents = [c for c in consents_for_citizen(citizen=principal) if c.status in (Status.ACTIVE, Status.PAUSED)]
    context = {
        "title": principal.display_name,
        "principal": principal,
        "mandate": mandate,
        "consents": consents,
        "may_revoke": REVOKE in mandate.actions,
        "may_read_history": READ_HISTORY in mandate.actions,
    }
    return render(request, "consent/principal.html", context)


@post_only("consent:principal", "mandate_id")
@citizen_required
@not_found_as_404
@acting_refused_as_page
def principal_consent_revoke(request: HttpRequest, mandate_id: str, consent_id: str) -> HttpResponse:
    citizen = required_citizen(request)
    mandate = (
        Mandate.objects.filter(pk=mandate_id, agent=citizen, kind=Mandate.Kind.LEGAL)
        .select_related("principal_citizen")
        .first()
    )
    if mandate is None or mandate.principal_citizen is None:
        raise Http404
    consent = consent_get_for_citizen(citizen=mandate.principal_citizen, consent_id=consent_id)
    types = tuple(item.attestation_type.slug for item in consent.items.all())
    acting = _acting_for_principal(request, mandate_id, REVOKE, types)[1]
    try:
        consent_revoke(consent=consent, actor=citizen_actor(citizen), reason="citizen", acting=acting, by=citizen)
    except GatewayError:
        messages.error(request, _("This consent can no longer be withdrawn."))
    else:
        done = _("Consent withdrawn: %(consumer)s can no longer obtain this person's data.")
        messages.success(request, done % {"consumer": consent.consumer.name})
    return HttpResponseRedirect(reverse("consent:principal", args=[mandate_id]))


@require_GET
@never_cache
@citizen_required
@not_found_as_404
@acting_refused_as_page
def principal_proof(request: HttpRequest, mandate_id: str, event_id: int) -> HttpResponse:
    principal = _principal(request, mandate_id)
    if event_id >= 2**63:
        raise Http404
    bundle = proof_bundle(event_id=event_id, citizen_ref=principal.ref)
    response = HttpResponse(json.dumps(bundle, ensure_ascii=False, indent=2), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="preuve-{event_id}.json"'
    return response
