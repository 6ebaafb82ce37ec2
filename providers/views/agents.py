"""The agents' login (ProConnect; a demo login in demo mode), their space and their logout.

An agent's session is Django's own (`request.user` is the agent's user): the auditor console and
the portal's pages check their roles (core.roles). The provider and its ID token stay in the
session for the logout at ProConnect.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth import logout as auth_logout
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from dsfr.forms import DsfrBaseForm

from core.login_failures import login_failure_response
from core.oidc import (
    LoginFailed,
    Provider,
    authorization_complete,
    authorization_url,
    logout_complete,
    logout_url,
    provider,
)
from providers import rules
from providers.demo import demo_agent
from providers.models import Agent, AgentRole, Organisation
from providers.selectors import agent_for_user, agent_roles
from providers.services.agents import (
    agent_login,
    agent_login_failed_record,
    agent_profile_from_claims,
)

PROVIDER = "proconnect"
SESSION_PROVIDER = "agent_provider"
SESSION_ID_TOKEN = "agent_id_token"
# The session's user is authenticated against the ordinary backend (agents have no password).
BACKEND = "django.contrib.auth.backends.ModelBackend"


def _next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("agent-space")


def _log_in(request: HttpRequest, agent: Agent, *, id_token: str = "") -> None:
    auth_login(request, agent.user, backend=BACKEND)
    if id_token:
        request.session[SESSION_PROVIDER] = PROVIDER
        request.session[SESSION_ID_TOKEN] = id_token


def _proconnect() -> Provider | None:
    return provider(PROVIDER)


@require_GET
@never_cache
def login_page(request: HttpRequest) -> HttpResponse:
    context = {
        "title": _("Agents' login"),
        "next": _next(request, request.GET.get("next")),
        "proconnect": _proconnect() is not None,
    }
    return render(request, "providers/agent_login.html", context)


@require_http_methods(["GET", "POST"])
def proconnect_start(request: HttpRequest) -> HttpResponse:
    # A GET (a link followed, the address typed) starts nothing: it leads to the login page.
    if request.method == "GET":
        next_path = _next(request, request.GET.get("next"))
        return HttpResponseRedirect(reverse("agent-login") + "?" + urlencode({"next": next_path}))
    config = _proconnect()
    if config is None:
        raise Http404
    next_path = _next(request, request.POST.get("next"))
    try:
        url = authorization_url(
            request,
            config,
            redirect_uri=request.build_absolute_uri(reverse("agent-login-callback")),
            state_data={"next": next_path},
        )
    except LoginFailed as failure:
        return _failed(request, failure.reason, next_path=next_path)
    return HttpResponseRedirect(url)


def _failed(request: HttpRequest, reason: str, *, next_path: str) -> HttpResponse:
    agent_login_failed_record(reason=reason, provider=PROVIDER)
    retry_url = reverse("agent-login") + "?" + urlencode({"next": next_path})
    return login_failure_response(request, reason, retry_url=retry_url)


@require_GET
@never_cache
def proconnect_callback(request: HttpRequest) -> HttpResponse:
    config = _proconnect()
    if config is None:
        raise Http404
    next_path = reverse("agent-space")
    try:
        verified = authorization_complete(request, config)
        next_path = _next(request, verified.state_data.get("next"))
        agent = agent_login(
            issuer=verified.issuer, subject=verified.subject, profile=agent_profile_from_claims(verified.claims)
        )
    except LoginFailed as failure:
        return _failed(request, failure.reason, next_path=next_path)
    _log_in(request, agent, id_token=verified.id_token)
    return HttpResponseRedirect(next_path)


class DemoAgentLoginForm(DsfrBaseForm):
    organisation = forms.ModelChoiceField(
        queryset=Organisation.objects.filter(active=True).order_by("name"),
        label=gettext_lazy("Organisation"),
        to_field_name="siret",
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)


@require_http_methods(["GET", "POST"])
def demo_login(request: HttpRequest) -> HttpResponse:
    # Only in demo mode: anywhere else this would let anyone act for any administration.
    if not settings.DEMO_MODE:
        raise Http404
    form = DemoAgentLoginForm(request.POST or None, initial={"next": _next(request, request.GET.get("next"))})
    if request.method == "POST" and form.is_valid():
        _log_in(request, demo_agent(form.cleaned_data["organisation"]))
        return HttpResponseRedirect(_next(request, form.cleaned_data["next"]))
    return render(request, "providers/agent_demo_login.html", {"title": _("Agents' demo login"), "form": form})


@require_GET
@never_cache
def space(request: HttpRequest) -> HttpResponse:
    agent = agent_for_user(request.user)
    if agent is None:
        return HttpResponseRedirect(reverse("agent-login") + "?next=" + reverse("agent-space"))
    roles = agent_roles(agent)
    context: dict[str, Any] = {
        "title": _("My agent space"),
        "agent": agent,
        "roles": [AgentRole.Role(role).label for role in roles],
        "auditor": AgentRole.Role.AUDITOR in roles,
        "administrator": AgentRole.Role.ADMINISTRATOR in roles,
        "holder": agent.organisation.attestation_types.exists(),
        "habilitations": bool(rules.HABILITATION_ROLES & set(roles)),
    }
    return render(request, "providers/agent_space.html", context)


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Logs out here, then at ProConnect (RP-initiated logout) when the login came from there."""
    id_token = request.session.get(SESSION_ID_TOKEN)
    auth_logout(request)
    config = _proconnect()
    if id_token and config is not None:
        url = logout_url(
            request,
            config,
            id_token=id_token,
            post_logout_redirect_uri=request.build_absolute_uri(reverse("agent-logout-done")),
        )
        if url:
            return HttpResponseRedirect(url)
    return HttpResponseRedirect(reverse("agent-logout-done"))


@require_GET
@never_cache
def logout_done(request: HttpRequest) -> HttpResponse:
    config = _proconnect()
    at_provider = "state" in request.GET and config is not None and logout_complete(request, config)
    context = {"title": _("You are logged out"), "at_provider": at_provider}
    return render(request, "providers/agent_logged_out.html", context)
