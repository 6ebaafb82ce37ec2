"""The citizen's pages: login, the approval page, the consent dashboard."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Protocol, TypeVar, cast

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from consent.models import Citizen, Consent
from consent.rules import ActingRefused
from core.errors import NotFound, ProviderError, ProviderTimeout, SubjectNotFound

View = TypeVar("View", bound=Callable[..., HttpResponse])


def post_only(page: str, *kept: str) -> Callable[[View], View]:
    """`require_POST` for an action whose address a person may still open by GET (the login sends
    them back to it after their session ended, Back, a bookmark): a GET or HEAD leads to the page
    the action lives on (the URL name `page`, with the view's arguments named in `kept`) instead of
    a blank 405 page. Other methods are refused as `require_POST` refuses them."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method in ("GET", "HEAD"):
                return HttpResponseRedirect(reverse(page, kwargs={name: kwargs[name] for name in kept}))
            if request.method != "POST":
                return HttpResponseNotAllowed(["POST"])
            return view(request, *args, **kwargs)

        return cast(View, wrapper)

    return decorate


def not_found_as_404(view: View) -> View:
    """Selectors raise the API's NotFound; a page answers with the site's 404 page instead."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404 from None

    return cast(View, wrapper)


class CitizenTransition(Protocol):
    """A service the citizen's page calls on one of their consents (consent_pause, consent_reject…)."""

    def __call__(self, *, consent: Consent, citizen: Citizen) -> Consent: ...


REGISTER_ERRORS = (ProviderError, ProviderTimeout, SubjectNotFound)


def acting_refused_as_page(view: View) -> View:
    """Someone who may not act for this subject (the register does not list them, their mandate
    ended or does not cover this, or the register cannot answer now) gets a page saying why, and
    nothing is done."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except ActingRefused as refused:
            person = refused.extra.get("subject") == "person"
            context = {
                "title": _("You cannot act for this person") if person else _("You cannot act for this company"),
                "reason": refused.extra.get("reason", ""),
                "person": person,
            }
            return render(request, "consent/acting_refused.html", context, status=403)
        except REGISTER_ERRORS:
            # The companies register is asked live: when it cannot answer, nobody is let in.
            context = {"title": _("You cannot act for this company"), "reason": "register_unavailable"}
            return render(request, "consent/acting_refused.html", context, status=503)

    return cast(View, wrapper)
