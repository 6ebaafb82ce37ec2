"""The portal's operations pages, for any agent with a role in their organisation: its own
exchanges (filtered by type, outcome and date; no citizen data) with the reasons of refusals and
its clients' use of their rate limit this minute, and
an integration guide written from its own habilitations in force, with curl and Python snippets."""

from __future__ import annotations

from collections import Counter
from typing import cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.ratelimit import ratelimit_usage
from core.templatetags.localized_fields import localized
from gateway.forms import ExchangeFilterForm
from gateway.selectors import api_clients_for_organisation, exchanges_for_consumer
from providers.models import Agent, AgentRole
from providers.selectors import attestation_type_slugs_in_force, catalogue_list
from providers.views.portal import AgentRequest, agent_page, require_role

# What each refusal or failure means, in words (docs/errors.md has the codes).
REASONS = {
    "consent_required": gettext_lazy("No consent covers this request"),
    "consent_revoked": gettext_lazy("The consent was withdrawn"),
    "consent_expired": gettext_lazy("The consent has expired"),
    "consent_paused": gettext_lazy("The consent is paused"),
    "usage_limit_reached": gettext_lazy("The consent's number of uses is reached"),
    "scope_missing": gettext_lazy("The token does not carry this attestation"),
    "loa_insufficient": gettext_lazy("The person's login level is too low"),
    "habilitation_missing": gettext_lazy("No habilitation in force for this attestation"),
    "provider_timeout": gettext_lazy("The provider did not answer in time"),
    "provider_error": gettext_lazy("The provider could not answer"),
    "subject_not_found": gettext_lazy("The provider has no record of this person"),
}
OUTCOMES = {
    "succeeded": gettext_lazy("Succeeded"),
    "denied": gettext_lazy("Denied"),
    "failed": gettext_lazy("Failed"),
    "pending": gettext_lazy("In progress"),
}


def _agent(request: HttpRequest) -> Agent:
    agent = cast(AgentRequest, request).agent
    require_role(agent, AgentRole.Role.values)
    return agent


def _reason(code: str) -> str:
    return str(REASONS.get(code, _("Another reason"))) if code else ""


@require_GET
@never_cache
@agent_page
def operations(request: HttpRequest) -> HttpResponse:
    agent = _agent(request)
    types = [(t.slug, localized(t, "title")) for t in catalogue_list()]
    form = ExchangeFilterForm(request.GET or None, type_choices=types)
    filters = form.cleaned_data if form.is_bound and form.is_valid() else {}
    exchanges = exchanges_for_consumer(
        organisation=agent.organisation,
        attestation_type=filters.get("attestation_type") or "",
        status=filters.get("status") or "",
        since=filters.get("since"),
        until=filters.get("until"),
    )
    rows = [
        {
            "exchange": exchange,
            "title": localized(exchange.attestation_type, "title"),
            "outcome": OUTCOMES.get(exchange.status, exchange.status),
            "reason": _reason(exchange.error_code),
        }
        for exchange in exchanges
    ]
    reasons = Counter(row["reason"] for row in rows if row["reason"])
    limit = agent.organisation.rate_limit_per_minute or settings.RATE_LIMIT_PER_MINUTE
    usage = [
        {"client": api_client, "used": ratelimit_usage(key=api_client.application.client_id)}
        for api_client in api_clients_for_organisation(organisation=agent.organisation)
        if api_client.disabled_at is None
    ]
    context = {
        "title": _("Operations"),
        "form": form,
        "rows": rows,
        "reasons": sorted(reasons.items(), key=lambda item: -item[1]),
        "usage": usage,
        "limit": limit,
    }
    return render(request, "gateway/portal/operations.html", context, status=400 if form.errors else 200)


@require_GET
@never_cache
@agent_page
def integration(request: HttpRequest) -> HttpResponse:
    agent = _agent(request)
    slugs = attestation_type_slugs_in_force(consumer=agent.organisation)
    types = [t for t in catalogue_list() if t.slug in slugs]
    clients = [c for c in api_clients_for_organisation(organisation=agent.organisation) if c.disabled_at is None]
    context = {
        "title": _("Integration guide"),
        "types": [
            {
                "type": t,
                "title": localized(t, "title"),
                "fields": [f.name for f in t.fields.all()],
                "purpose": t.purposes[0]["code"] if t.purposes else "",
            }
            for t in types
        ],
        "scope": " ".join(["consents:read", "consents:write", *(f"attestations:{t.slug}" for t in types)]),
        "client_id": clients[0].application.client_id if clients else "CLIENT_ID",
        "base": settings.GATEWAY_BASE_URL,
    }
    return render(request, "gateway/portal/integration.html", context)
