"""The portal's page for a provider administration: the volumes of its attestation types per
consumer, their outcomes and its adapter's latency over the last 30 days, and switching a type off
(out of the catalogue; the habilitations in force end, their consumers told by email)."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from core.errors import GatewayError, NotFound
from core.templatetags.localized_fields import localized
from gateway.selectors import provider_statistics
from providers import rules
from providers.forms import ReasonForm
from providers.models import Agent, AttestationType
from providers.services import attestation_type_withdraw
from providers.services.agents import agent_actor
from providers.views.portal import AgentRequest, add_service_errors, agent_page, require_role

PERIOD = dt.timedelta(days=30)


def _agent(request: HttpRequest) -> Agent:
    agent = cast(AgentRequest, request).agent
    require_role(agent, rules.HABILITATION_ROLES)
    return agent


def _page(
    request: HttpRequest, agent: Agent, *, forms: dict[str, ReasonForm] | None = None, status: int = 200
) -> HttpResponse:
    held = list(AttestationType.objects.filter(holder=agent.organisation).order_by("slug"))
    rows = provider_statistics(organisation=agent.organisation, since=timezone.now() - PERIOD)
    types: list[dict[str, Any]] = []
    for attestation_type in held:
        consumers = [row for row in rows if row["attestation_type__slug"] == attestation_type.slug]
        total = sum(row["total"] for row in consumers)
        failed = sum(row["failed"] for row in consumers)
        types.append(
            {
                "type": attestation_type,
                "title": localized(attestation_type, "title"),
                "consumers": consumers,
                "total": total,
                "error_rate": round(100 * failed / total, 1) if total else None,
                "form": (forms or {}).get(attestation_type.slug) or ReasonForm(prefix=attestation_type.slug),
            }
        )
    context = {"title": _("My attestations as a provider"), "types": types}
    return render(request, "gateway/portal/provider.html", context, status=status)


@require_GET
@never_cache
@agent_page
def provider_page(request: HttpRequest) -> HttpResponse:
    return _page(request, _agent(request))


@require_POST
@agent_page
def attestation_type_withdraw_view(request: HttpRequest, slug: str) -> HttpResponse:
    agent = _agent(request)
    attestation_type = AttestationType.objects.filter(holder=agent.organisation, slug=slug).first()
    if attestation_type is None:
        raise NotFound("No such attestation type of this organisation.")
    form = ReasonForm(request.POST, prefix=slug)
    if form.is_valid():
        try:
            attestation_type_withdraw(
                attestation_type=attestation_type, reason=form.cleaned_data["reason"], actor=agent_actor(agent)
            )
        except GatewayError as error:
            add_service_errors(form, error)
        else:
            return HttpResponseRedirect(reverse("portal-provider"))
    return _page(request, agent, forms={slug: form}, status=400)
