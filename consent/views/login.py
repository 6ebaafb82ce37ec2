from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from consent.auth import login_citizen, logout_citizen
from consent.forms import DemoLoginForm
from consent.services.citizens import citizen_from_demo
from providers.models import EidasLevel


def safe_next(request: HttpRequest, candidate: str | None) -> str:
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return reverse("consent:dashboard")


@require_http_methods(["GET"])
def login_page(request: HttpRequest) -> HttpResponse:
    level = request.GET.get("level", "")
    context = {
        "title": _("Log in"),
        "next": safe_next(request, request.GET.get("next")),
        "level": level if level in EidasLevel.values else "",
        "level_label": EidasLevel(level).label if level in EidasLevel.values else "",
    }
    return render(request, "consent/login.html", context)


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
    logout_citizen(request)
    return HttpResponseRedirect(reverse("home"))
