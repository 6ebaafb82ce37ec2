"""The portal's OAuth client pages: an organisation's administrators create clients (the secret
shown once), rotate a secret with an overlap, set redirect URIs, disable a client, and see when
each was last used. Another organisation's client does not exist for them (404); agents without
the administrator role are refused (403)."""

from __future__ import annotations

from contextlib import suppress
from typing import Any, cast

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.errors import GatewayError, InvalidTransition
from gateway.forms import ClientCreateForm, RedirectUrisForm, RotateForm
from gateway.selectors import api_client_get_for_organisation, api_clients_for_organisation
from gateway.services.clients import client_create, client_disable, client_redirect_uris_set, client_secret_rotate
from providers.models import Agent, AgentRole, ApiClient
from providers.services.agents import agent_actor
from providers.views.portal import AgentRequest, add_service_errors, agent_page, require_role

ROLES = {AgentRole.Role.ADMINISTRATOR}
# The detail page holds several forms.
REDIRECT_PREFIX = "redirect"


def administrator(request: HttpRequest) -> Agent:
    agent = cast(AgentRequest, request).agent
    require_role(agent, ROLES)
    return agent


def _breadcrumb(current: str) -> dict[str, Any]:
    return {
        "links": [
            {"url": reverse("agent-space"), "title": _("My agent space")},
            {"url": reverse("portal-clients"), "title": _("OAuth clients")},
        ],
        "current": current,
    }


def _secret_page(request: HttpRequest, api_client: ApiClient, secret: str, *, rotated: bool) -> HttpResponse:
    title = _("The client's secret")
    context = {
        "title": title,
        "api_client": api_client,
        "secret": secret,
        "rotated": rotated,
        "token_url": request.build_absolute_uri(reverse("oauth2_provider:token")),
        "breadcrumb_data": _breadcrumb(title),
    }
    return render(request, "gateway/portal/client_secret.html", context)


@require_GET
@never_cache
@agent_page
def client_list(request: HttpRequest) -> HttpResponse:
    agent = administrator(request)
    context = {"title": _("OAuth clients"), "clients": api_clients_for_organisation(organisation=agent.organisation)}
    return render(request, "gateway/portal/clients.html", context)


@require_http_methods(["GET", "POST"])
@never_cache
@agent_page
def client_new(request: HttpRequest) -> HttpResponse:
    agent = administrator(request)
    form = ClientCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = client_create(
                organisation=agent.organisation,
                name=form.cleaned_data["name"],
                grant=form.cleaned_data["grant"],
                redirect_uris=form.cleaned_data["redirect_uris"],
                token_endpoint_auth_method=form.cleaned_data["authentication"],
                jwks=form.cleaned_data["jwks"],
                jwks_uri=form.cleaned_data["jwks_uri"] or "",
                actor=agent_actor(agent),
            )
        except GatewayError as error:
            add_service_errors(form, error)
        else:
            if created.api_client.token_endpoint_auth_method == ApiClient.AuthMethod.PRIVATE_KEY_JWT:
                messages.success(request, _("The client is created. It proves who it is with its key: no secret."))
                return HttpResponseRedirect(reverse("portal-client", args=[created.api_client.pk]))
            # Shown in this answer only: the database keeps its keyed hash.
            return _secret_page(request, created.api_client, created.client_secret, rotated=False)
    title = _("New OAuth client")
    context = {"title": title, "form": form, "breadcrumb_data": _breadcrumb(title)}
    return render(request, "gateway/portal/client_new.html", context, status=400 if form.errors else 200)


def _detail(request: HttpRequest, api_client: ApiClient, *, status: int = 200, **forms: Any) -> HttpResponse:
    context = {
        "title": _("OAuth client: %(name)s") % {"name": api_client.application.name},
        "api_client": api_client,
        "application": api_client.application,
        "redirect_form": forms.get("redirect_form")
        or RedirectUrisForm(
            initial={"redirect_uris": "\n".join(api_client.application.redirect_uris.split())}, prefix=REDIRECT_PREFIX
        ),
        "rotate_form": forms.get("rotate_form") or RotateForm(),
    }
    context["breadcrumb_data"] = _breadcrumb(context["title"])
    return render(request, "gateway/portal/client_detail.html", context, status=status)


def _client(request: HttpRequest, api_client_id: int) -> tuple[Agent, ApiClient]:
    agent = administrator(request)
    return agent, api_client_get_for_organisation(organisation=agent.organisation, api_client_id=api_client_id)


@require_GET
@never_cache
@agent_page
def client_detail(request: HttpRequest, api_client_id: int) -> HttpResponse:
    _agent, api_client = _client(request, api_client_id)
    return _detail(request, api_client)


@require_POST
@never_cache
@agent_page
def client_rotate(request: HttpRequest, api_client_id: int) -> HttpResponse:
    agent, api_client = _client(request, api_client_id)
    form = RotateForm(request.POST)
    if form.is_valid():
        try:
            secret = client_secret_rotate(api_client=api_client, overlap=form.overlap_value(), actor=agent_actor(agent))
        except GatewayError as error:
            add_service_errors(form, error)
        else:
            return _secret_page(request, api_client, secret, rotated=True)
    return _detail(request, api_client, status=400, rotate_form=form)


@require_POST
@agent_page
def client_redirect_uris(request: HttpRequest, api_client_id: int) -> HttpResponse:
    agent, api_client = _client(request, api_client_id)
    form = RedirectUrisForm(request.POST, prefix=REDIRECT_PREFIX)
    if form.is_valid():
        try:
            client_redirect_uris_set(
                api_client=api_client, redirect_uris=form.cleaned_data["redirect_uris"], actor=agent_actor(agent)
            )
        except GatewayError as error:
            add_service_errors(form, error)
        else:
            return HttpResponseRedirect(reverse("portal-client", args=[api_client.pk]))
    return _detail(request, api_client, status=400, redirect_form=form)


@require_http_methods(["GET", "POST"])
@never_cache
@agent_page
def client_disable_view(request: HttpRequest, api_client_id: int) -> HttpResponse:
    """GET asks to confirm (disabling cannot be undone), POST disables."""
    agent, api_client = _client(request, api_client_id)
    if request.method == "GET":
        if api_client.disabled_at is not None:
            return HttpResponseRedirect(reverse("portal-client", args=[api_client.pk]))
        context = {"title": _("Disable the client %(name)s?") % {"name": api_client.application.name}}
        return render(request, "gateway/portal/client_disable.html", {**context, "api_client": api_client})
    # Already disabled: the page it returns to says so.
    with suppress(InvalidTransition):
        client_disable(api_client=api_client, actor=agent_actor(agent))
    return HttpResponseRedirect(reverse("portal-client", args=[api_client.pk]))
