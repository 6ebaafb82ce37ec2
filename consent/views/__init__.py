"""The citizen's pages: login, the approval page, the consent dashboard."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, Protocol, TypeVar, cast

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from consent.models import Citizen, Consent
from consent.rules import ActingRefused
from core.errors import NotFound, ProviderError, ProviderTimeout, SubjectNotFound

View = TypeVar("View", bound=Callable[..., HttpResponse])


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
