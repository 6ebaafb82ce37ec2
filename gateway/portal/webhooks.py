"""The portal's webhook page for an organisation's administrators: where its webhooks go, the
delivery log (status, attempts, next try), sending a delivery again, a new signing key (shown
once, the previous one signing beside it for the overlap)."""

from __future__ import annotations

import uuid

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from consent.selectors import webhook_deliveries_for_organisation, webhook_delivery_get_for_organisation
from consent.services.webhooks import organisation_webhook_key_rotate, organisation_webhook_set, webhook_redeliver
from core.errors import GatewayError
from gateway.forms import WebhookEndpointForm
from gateway.portal.clients import administrator
from providers.models import Organisation
from providers.services import WEBHOOK_SECRET_OVERLAP
from providers.services.agents import agent_actor
from providers.views.portal import add_service_errors, agent_page

# Why the last attempt failed, for the agent who fixes the receiver (consent.services.webhooks).
REASONS = {
    "no_webhook_url": gettext_lazy("No address is set."),
    "refused": gettext_lazy("The address is not one the gateway may call (a private or local address, say)."),
    "timeout": gettext_lazy("Your server did not answer in time."),
    "response_too_large": gettext_lazy("Your server's answer was too large."),
    "connection_failed": gettext_lazy("Your server could not be reached."),
    "http_status": gettext_lazy("Your server answered with an error."),
    "attempt_lost": gettext_lazy("The attempt was interrupted on the gateway's side."),
}

EVENTS = {
    "consent.approved": gettext_lazy("Consent given"),
    "consent.rejected": gettext_lazy("Consent refused"),
    "consent.paused": gettext_lazy("Consent paused"),
    "consent.resumed": gettext_lazy("Consent resumed"),
    "consent.revoked": gettext_lazy("Consent withdrawn"),
    "consent.expired": gettext_lazy("Consent expired"),
}


def _page(
    request: HttpRequest,
    organisation: Organisation,
    *,
    form: WebhookEndpointForm | None = None,
    secret: str = "",
    rotated: bool = False,
    status: int = 200,
) -> HttpResponse:
    context = {
        "title": _("Webhooks"),
        "organisation": organisation,
        "form": form or WebhookEndpointForm(initial={"url": organisation.webhook_url}),
        "deliveries": [
            {
                "delivery": delivery,
                "event": EVENTS.get(delivery.event_type, delivery.event_type),
                "reason": REASONS.get(delivery.last_error_code, "") if delivery.status != "delivered" else "",
            }
            for delivery in webhook_deliveries_for_organisation(organisation=organisation)
        ],
        "secret": secret,
        # A first secret replaces none: only a rotation has a previous one signing beside it.
        "rotated": rotated,
        "overlap_hours": int(WEBHOOK_SECRET_OVERLAP.total_seconds() // 3600),
    }
    return render(request, "gateway/portal/webhooks.html", context, status=status)


@require_GET
@never_cache
@agent_page
def webhooks(request: HttpRequest) -> HttpResponse:
    return _page(request, administrator(request).organisation)


@require_POST
@never_cache
@agent_page
def webhook_endpoint(request: HttpRequest) -> HttpResponse:
    agent = administrator(request)
    form = WebhookEndpointForm(request.POST)
    if form.is_valid():
        try:
            secret = organisation_webhook_set(
                organisation=agent.organisation, url=form.cleaned_data["url"], actor=agent_actor(agent)
            )
        except GatewayError as error:
            add_service_errors(form, error)
        else:
            agent.organisation.refresh_from_db()
            if secret:
                return _page(request, agent.organisation, secret=secret)
            return HttpResponseRedirect(reverse("portal-webhooks"))
    return _page(request, agent.organisation, form=form, status=400)


@require_POST
@never_cache
@agent_page
def webhook_key_rotate(request: HttpRequest) -> HttpResponse:
    agent = administrator(request)
    secret = organisation_webhook_key_rotate(organisation=agent.organisation, actor=agent_actor(agent))
    return _page(request, agent.organisation, secret=secret, rotated=True)


@require_POST
@agent_page
def webhook_redeliver_view(request: HttpRequest, delivery_id: uuid.UUID) -> HttpResponse:
    agent = administrator(request)
    delivery = webhook_delivery_get_for_organisation(organisation=agent.organisation, delivery_id=delivery_id)
    webhook_redeliver(delivery=delivery, actor=agent_actor(agent))
    return HttpResponseRedirect(reverse("portal-webhooks"))
