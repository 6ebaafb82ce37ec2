"""How a citizen is logged in, behind one small interface.

Views only call these functions; the demo login today and the OpenID Connect login later both end
in `login_citizen`, so replacing one by the other touches no view.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from consent.models import Citizen
from providers.models import EidasLevel

SESSION_CITIZEN = "citizen_id"
SESSION_LEVEL = "citizen_eidas_level"
_CACHE_ATTR = "_citizen_cache"

View = TypeVar("View", bound=Callable[..., HttpResponse])


def login_citizen(request: HttpRequest, citizen: Citizen, eidas_level: str) -> None:
    if eidas_level not in EidasLevel.values:
        raise ValueError(f"unknown eIDAS level {eidas_level!r}")
    # A new session key on every login: a key planted before login (session fixation) is worthless.
    request.session.cycle_key()
    request.session[SESSION_CITIZEN] = str(citizen.pk)
    request.session[SESSION_LEVEL] = eidas_level
    setattr(request, _CACHE_ATTR, citizen)


def logout_citizen(request: HttpRequest) -> None:
    request.session.flush()
    setattr(request, _CACHE_ATTR, None)


def current_citizen(request: HttpRequest) -> Citizen | None:
    if hasattr(request, _CACHE_ATTR):
        return cast(Citizen | None, getattr(request, _CACHE_ATTR))
    citizen_id = request.session.get(SESSION_CITIZEN)
    citizen = Citizen.objects.filter(pk=citizen_id).first() if citizen_id else None
    setattr(request, _CACHE_ATTR, citizen)
    return citizen


def required_citizen(request: HttpRequest) -> Citizen:
    """The logged-in citizen, in a view behind `citizen_required`."""
    citizen = current_citizen(request)
    assert citizen is not None  # citizen_required
    return citizen


def current_level(request: HttpRequest) -> str:
    """The eIDAS level of the current login, "" when nobody is logged in."""
    if current_citizen(request) is None:
        return ""
    return str(request.session.get(SESSION_LEVEL, ""))


def login_url(next_path: str, *, level: str = "") -> str:
    query = {"next": next_path}
    if level:
        query["level"] = level
    return reverse("consent:login") + "?" + urlencode(query)


def citizen_required(view: View) -> View:
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if current_citizen(request) is None:
            return HttpResponseRedirect(login_url(request.get_full_path()))
        return view(request, *args, **kwargs)

    return cast(View, wrapper)
