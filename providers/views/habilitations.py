"""Habilitation requests in the portal: the consumer drafts, submits, answers a change request and
asks for an extension; the provider holding the type reviews, decides, extends and revokes. Both
read the request's history. Each action is one service call (its audit event in its transaction).

Who: an administrator or habilitation manager of the consumer or of the holder (403 otherwise);
a request of neither organisation does not exist for the agent (404).
"""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import GatewayError, NotFound
from core.templatetags.localized_fields import localized
from providers import rules
from providers.forms import (
    ExtensionDecisionForm,
    ExtensionRequestForm,
    HabilitationRequestForm,
    ReasonForm,
    ReviewForm,
)
from providers.models import AttestationType, Habilitation
from providers.selectors import (
    agent_names,
    attestation_type_get,
    attestation_types_requestable,
    habilitation_get_for_agent,
    habilitation_steps,
    habilitations_for_consumer,
    habilitations_for_provider,
)
from providers.services import (
    habilitation_approve,
    habilitation_draft_save,
    habilitation_draft_submit,
    habilitation_extension_grant,
    habilitation_extension_refuse,
    habilitation_extension_request,
    habilitation_refuse,
    habilitation_request_changes,
    habilitation_resubmit,
    habilitation_revoke,
)
from providers.services.agents import agent_actor
from providers.views.portal import AgentRequest, add_service_errors, agent_page, require_role

Status = Habilitation.Status
SUBMIT, DRAFT = "submit", "draft"


def _agent(request: HttpRequest) -> Any:
    agent = cast(AgentRequest, request).agent
    require_role(agent, rules.HABILITATION_ROLES)
    return agent


def _breadcrumb(current: str) -> dict[str, Any]:
    return {
        "links": [
            {"url": reverse("agent-space"), "title": _("My agent space")},
            {"url": reverse("portal-habilitations"), "title": _("Habilitations")},
        ],
        "current": current,
    }


@require_GET
@never_cache
@agent_page
def habilitation_list(request: HttpRequest) -> HttpResponse:
    agent = _agent(request)
    organisation = agent.organisation
    context = {
        "title": _("Habilitations"),
        "requests": habilitations_for_consumer(organisation=organisation),
        "reviews": habilitations_for_provider(organisation=organisation),
        "holder": organisation.attestation_types.exists(),
        "requestable": attestation_types_requestable(organisation=organisation),
    }
    return render(request, "providers/portal/habilitations.html", context)


def _form_page(
    request: HttpRequest,
    form: HabilitationRequestForm,
    attestation_type: AttestationType,
    *,
    habilitation: Habilitation | None = None,
    status: int = 200,
) -> HttpResponse:
    answering = habilitation is not None and habilitation.status == Status.CHANGES_REQUESTED
    title = _("Request a habilitation: %(type)s") % {"type": localized(attestation_type, "title")}
    context = {
        "title": title,
        "form": form,
        "attestation_type": attestation_type,
        "habilitation": habilitation,
        "answering": answering,
        "breadcrumb_data": _breadcrumb(title),
    }
    return render(request, "providers/portal/habilitation_form.html", context, status=status)


def _request_form(
    request: HttpRequest, attestation_type: AttestationType, *, initial: dict[str, Any], complete: bool
) -> HabilitationRequestForm:
    return HabilitationRequestForm(
        request.POST if request.method == "POST" else None,
        initial=initial,
        attestation_type=attestation_type,
        complete=complete,
        demo_mode=settings.DEMO_MODE,
    )


@require_http_methods(["GET", "POST"])
@never_cache
@agent_page
def habilitation_new(request: HttpRequest, slug: str) -> HttpResponse:
    agent = _agent(request)
    attestation_type = attestation_type_get(slug)
    if attestation_type.holder_id == agent.organisation_id:
        raise NotFound("An organisation does not ask for its own data.")
    complete = request.POST.get("action") == SUBMIT
    initial = HabilitationRequestForm.initial_for_type(attestation_type, dpo_email=agent.organisation.dpo_email)
    form = _request_form(request, attestation_type, initial=initial, complete=complete)
    if request.method == "POST" and form.is_valid():
        try:
            with transaction.atomic():
                habilitation = habilitation_draft_save(
                    consumer=agent.organisation,
                    attestation_type=attestation_type,
                    actor=agent_actor(agent),
                    **form.terms(),
                )
                if complete:
                    habilitation = habilitation_draft_submit(habilitation=habilitation, actor=agent_actor(agent))
        except GatewayError as error:
            add_service_errors(
                form, error, conflict=_("A request of your organisation for this attestation is already under review.")
            )
        else:
            return HttpResponseRedirect(reverse("portal-habilitation", args=[habilitation.pk]))
    return _form_page(request, form, attestation_type, status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@never_cache
@agent_page
def habilitation_edit(request: HttpRequest, habilitation_id: uuid.UUID) -> HttpResponse:
    """A draft is saved or submitted; a request with changes asked for is answered (resubmitted)."""
    agent = _agent(request)
    habilitation = habilitation_get_for_agent(agent=agent, habilitation_id=habilitation_id)
    if habilitation.consumer_id != agent.organisation_id:
        raise PermissionDenied
    if habilitation.status not in (Status.DRAFT, Status.CHANGES_REQUESTED):
        return HttpResponseRedirect(reverse("portal-habilitation", args=[habilitation.pk]))
    attestation_type = habilitation.attestation_type
    complete = request.POST.get("action") == SUBMIT or habilitation.status == Status.CHANGES_REQUESTED
    form = _request_form(
        request, attestation_type, initial=HabilitationRequestForm.initial_from(habilitation), complete=complete
    )
    if request.method == "POST" and form.is_valid():
        actor = agent_actor(agent)
        try:
            if habilitation.status == Status.CHANGES_REQUESTED:
                habilitation_resubmit(habilitation=habilitation, actor=actor, **form.terms())
            else:
                with transaction.atomic():
                    habilitation_draft_save(
                        consumer=agent.organisation,
                        attestation_type=attestation_type,
                        actor=actor,
                        habilitation=habilitation,
                        **form.terms(),
                    )
                    if complete:
                        habilitation_draft_submit(habilitation=habilitation, actor=actor)
        except GatewayError as error:
            add_service_errors(form, error)
        else:
            return HttpResponseRedirect(reverse("portal-habilitation", args=[habilitation.pk]))
    return _form_page(request, form, attestation_type, habilitation=habilitation, status=400 if form.errors else 200)


def _detail_page(request: HttpRequest, habilitation: Habilitation, *, status: int = 200, **forms: Any) -> HttpResponse:
    agent = cast(AgentRequest, request).agent
    consumer_side = habilitation.consumer_id == agent.organisation_id
    provider_side = habilitation.attestation_type.holder_id == agent.organisation_id
    steps = habilitation_steps(habilitation=habilitation)
    names = agent_names(actor_ids=[step.actor for step in steps])
    history = [{"step": step, "who": names.get(step.actor) or _("The gateway's operator")} for step in steps]
    context: dict[str, Any] = {
        "title": _("Habilitation request: %(type)s") % {"type": localized(habilitation.attestation_type, "title")},
        "habilitation": habilitation,
        "consumer_side": consumer_side,
        "provider_side": provider_side,
        "history": history,
        "field_labels": [
            localized(field, "label")
            for field in habilitation.attestation_type.fields.all()
            if field.name in habilitation.fields
        ],
        "purpose_label": next(
            (
                purpose.get(f"label_{request.LANGUAGE_CODE}") or purpose.get("label_fr")
                for purpose in habilitation.attestation_type.purposes
                if purpose["code"] == habilitation.purpose_code
            ),
            "",
        ),
    }
    is_approved = habilitation.status == Status.APPROVED
    if provider_side and habilitation.status == Status.SUBMITTED:
        context["review_form"] = forms.get("review_form") or ReviewForm()
    if is_approved:
        context["revoke_form"] = forms.get("revoke_form") or ReasonForm()
    if consumer_side and is_approved and habilitation.valid_until and habilitation.extension_until is None:
        context["extension_form"] = forms.get("extension_form") or ExtensionRequestForm(
            valid_until=habilitation.valid_until
        )
    if provider_side and is_approved and habilitation.extension_until is not None:
        context["extension_decision_form"] = forms.get("extension_decision_form") or ExtensionDecisionForm()
    context["breadcrumb_data"] = _breadcrumb(context["title"])
    return render(request, "providers/portal/habilitation_detail.html", context, status=status)


@require_GET
@never_cache
@agent_page
def habilitation_detail(request: HttpRequest, habilitation_id: uuid.UUID) -> HttpResponse:
    agent = _agent(request)
    return _detail_page(request, habilitation_get_for_agent(agent=agent, habilitation_id=habilitation_id))


def _done(habilitation: Habilitation) -> HttpResponse:
    return HttpResponseRedirect(reverse("portal-habilitation", args=[habilitation.pk]))


def _side(request: HttpRequest, habilitation_id: uuid.UUID, *, provider: bool) -> tuple[Any, Habilitation]:
    """The agent and the request, 403 when the action belongs to the other organisation."""
    agent = _agent(request)
    habilitation = habilitation_get_for_agent(agent=agent, habilitation_id=habilitation_id)
    organisation_id = habilitation.attestation_type.holder_id if provider else habilitation.consumer_id
    if organisation_id != agent.organisation_id:
        raise PermissionDenied
    return agent, habilitation


@require_POST
@agent_page
def habilitation_submit_draft(request: HttpRequest, habilitation_id: uuid.UUID) -> HttpResponse:
    agent, habilitation = _side(request, habilitation_id, provider=False)
    try:
        habilitation_draft_submit(habilitation=habilitation, actor=agent_actor(agent))
    except GatewayError:
        # Incomplete: back to the form, where each missing answer is shown.
        return HttpResponseRedirect(reverse("portal-habilitation-edit", args=[habilitation.pk]))
    return _done(habilitation)


@require_POST
@agent_page
def habilitation_review(request: HttpRequest, habilitation_id: uuid.UUID) -> HttpResponse:
    agent, habilitation = _side(request, habilitation_id, provider=True)
    form = ReviewForm(request.POST)
    if form.is_valid():
        actor, decision, reason = agent_actor(agent), form.cleaned_data["decision"], form.cleaned_data["reason"]
        try:
            if decision == ReviewForm.APPROVE:
                habilitation_approve(
                    habilitation=habilitation, actor=actor, valid_until=form.cleaned_data["valid_until"]
                )
            elif decision == ReviewForm.CHANGES:
                habilitation_request_changes(habilitation=habilitation, reason=reason, actor=actor)
            else:
                habilitation_refuse(habilitation=habilitation, reason=reason, actor=actor)
        except GatewayError as error:
            add_service_errors(form, error)
        else:
            return _done(habilitation)
    return _detail_page(request, habilitation, status=400, review_form=form)


@require_POST
@agent_page
def habilitation_revoke_view(request: HttpRequest, habilitation_id: uuid.UUID) -> HttpResponse:
    agent = _agent(request)
    habilitation = habilitation_get_for_agent(agent=agent, habilitation_id=habilitation_id)
    form = ReasonForm(request.POST)
    if form.is_valid():
        try:
            habilitation_revoke(habilitation=habilitation, reason=form.cleaned_data["reason"], actor=agent_actor(agent))
        except GatewayError as error:
            add_service_errors(form, error)
        else:
            return _done(habilitation)
    return _detail_page(request, habilitation, status=400, revoke_form=form)


@require_POST
@agent_page
def habilitation_extension(request: HttpRequest, habilitation_id: uuid.UUID) -> HttpResponse:
    agent, habilitation = _side(request, habilitation_id, provider=False)
    form = ExtensionRequestForm(request.POST, valid_until=habilitation.valid_until)
    if form.is_valid():
        try:
            habilitation_extension_request(
                habilitation=habilitation,
                until=form.cleaned_data["until"],
                reason=form.cleaned_data["reason"],
                actor=agent_actor(agent),
            )
        except GatewayError as error:
            add_service_errors(form, error)
        else:
            return _done(habilitation)
    return _detail_page(request, habilitation, status=400, extension_form=form)


@require_POST
@agent_page
def habilitation_extension_decision(request: HttpRequest, habilitation_id: uuid.UUID) -> HttpResponse:
    agent, habilitation = _side(request, habilitation_id, provider=True)
    form = ExtensionDecisionForm(request.POST)
    if form.is_valid():
        actor = agent_actor(agent)
        try:
            if form.cleaned_data["decision"] == ExtensionDecisionForm.GRANT:
                habilitation_extension_grant(habilitation=habilitation, actor=actor)
            else:
                habilitation_extension_refuse(
                    habilitation=habilitation, reason=form.cleaned_data["reason"], actor=actor
                )
        except GatewayError as error:
            add_service_errors(form, error)
        else:
            return _done(habilitation)
    return _detail_page(request, habilitation, status=400, extension_decision_form=form)
