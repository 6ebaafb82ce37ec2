"""The citizen's login: through FranceConnect (or FranceConnect+, for a higher level), or the demo
login in demo mode; and the logout, here and at the provider."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from consent.auth import login_citizen, login_url, logout_citizen
from consent.forms import DemoLoginForm
from consent.identity import CITIZEN_PROVIDERS, citizen_provider, login_route
from consent.services.citizens import (
    citizen_from_demo,
    citizen_identify,
    citizen_login_failed_record,
    identity_from_claims,
)
from core.login_failures import login_failure_response
from core.oidc import LoginFailed, Provider, authorization_complete, authorization_url, logout_complete, logout_url
from providers.models import EidasLevel
from providers.rules import eidas_satisfies


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("consent:dashboard")


def _level(candidate: str | None) -> str:
    return candidate if candidate in EidasLevel.values else ""


@require_GET
@never_cache
def login_page(request: HttpRequest) -> HttpResponse:
    level = _level(request.GET.get("level"))
    context = {
        "title": _("Log in"),
        "next": safe_next(request, request.GET.get("next")),
        "level": level,
        "level_label": EidasLevel(level).label if level else "",
        "route": login_route(level),
        "any_provider": any(citizen_provider(name) for name in CITIZEN_PROVIDERS),
    }
    return render(request, "consent/login.html", context)


def _failed(request: HttpRequest, config: Provider | None, reason: str, *, next_path: str, level: str) -> HttpResponse:
    citizen_login_failed_record(reason=reason, provider=config.name if config else "")
    return login_failure_response(request, reason, retry_url=login_url(next_path, level=level))


def _callback_uri(request: HttpRequest, config: Provider) -> str:
    return request.build_absolute_uri(reverse("consent:oidc-callback", args=[config.name]))


@require_http_methods(["GET", "POST"])
def oidc_start(request: HttpRequest) -> HttpResponse:
    """Sends the citizen to the provider that vouches for the level the page needs. A GET (a link
    followed, the address typed) starts nothing: it leads to the login page and its button."""
    if request.method == "GET":
        level = _level(request.GET.get("level"))
        return HttpResponseRedirect(login_url(safe_next(request, request.GET.get("next")), level=level))
    next_path = safe_next(request, request.POST.get("next"))
    needed = _level(request.POST.get("level"))
    route = login_route(needed)
    if route is None:
        raise Http404
    try:
        url = authorization_url(
            request,
            route.provider,
            redirect_uri=_callback_uri(request, route.provider),
            acr_values=route.acr_values,
            state_data={"next": next_path, "level": route.level},
        )
    except LoginFailed as failure:
        return _failed(request, route.provider, failure.reason, next_path=next_path, level=needed)
    return HttpResponseRedirect(url)


@require_GET
@never_cache
def oidc_callback(request: HttpRequest, provider: str) -> HttpResponse:
    config = citizen_provider(provider)
    if config is None:
        raise Http404
    next_path, asked = reverse("consent:dashboard"), ""
    try:
        login = authorization_complete(request, config)
        next_path = safe_next(request, login.state_data.get("next"))
        asked = _level(login.state_data.get("level"))
        # The level is the provider's word (acr) for what it checked, never what we asked for.
        level = config.level_of(login.acr)
        if not eidas_satisfies(level, asked or level):
            raise LoginFailed("acr_too_low")
        identity, email = identity_from_claims(login.claims)
    except LoginFailed as failure:
        return _failed(request, config, failure.reason, next_path=next_path, level=asked)
    citizen = citizen_identify(issuer=login.issuer, subject=login.subject, identity=identity, email=email)
    login_citizen(request, citizen, level, provider=config.name, id_token=login.id_token)
    return HttpResponseRedirect(next_path)


@require_http_methods(["GET", "POST"])
def demo_login(request: HttpRequest) -> HttpResponse:
    # Only in demo mode: anywhere else this would let anyone log in as anyone.
    if not settings.DEMO_MODE:
        raise Http404
    if request.method == "POST":
        form = DemoLoginForm(request.POST)
        if form.is_valid():
            citizen = citizen_from_demo(index=form.cleaned_data["citizen"])
            login_citizen(request, citizen, form.cleaned_data["eidas_level"])
            return HttpResponseRedirect(safe_next(request, form.cleaned_data["next"]))
    else:
        level = request.GET.get("level", "")
        form = DemoLoginForm(
            initial={
                "next": safe_next(request, request.GET.get("next")),
                "eidas_level": level if level in EidasLevel.values else EidasLevel.SUBSTANTIAL,
            }
        )
    return render(request, "consent/demo_login.html", {"title": _("Demo login"), "form": form})


@require_POST
def logout(request: HttpRequest) -> HttpResponse:
    """Logs out here, then at the provider (RP-initiated logout) when the login came from one."""
    ended = logout_citizen(request)
    config = citizen_provider(ended.provider) if ended else None
    if ended is not None and config is not None:
        url = logout_url(
            request,
            config,
            id_token=ended.id_token,
            post_logout_redirect_uri=request.build_absolute_uri(reverse("consent:logout-done")),
        )
        if url:
            return HttpResponseRedirect(url)
    return HttpResponseRedirect(reverse("consent:logout-done"))


@require_GET
@never_cache
def logout_done(request: HttpRequest) -> HttpResponse:
    """Back from the provider's logout (or straight from ours): the citizen is logged out."""
    at_provider = "state" in request.GET and any(
        logout_complete(request, config) for config in filter(None, map(citizen_provider, CITIZEN_PROVIDERS))
    )
    return render(request, "consent/logged_out.html", {"title": _("You are logged out"), "at_provider": at_provider})
