"""How a citizen is logged in, behind one small interface.

Views only call these functions; the OpenID Connect login (consent.views.login) and the demo
login both end in `login_citizen`. The session holds the citizen's id, the eIDAS level the provider
vouched for (`acr`), and for an OpenID Connect login the provider and its ID token, which logging
out at the provider needs (`id_token_hint`). A session left idle for
`settings.CITIZEN_SESSION_IDLE_SECONDS` ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from consent.models import Citizen
from consent.services.citizens import citizen_session_end, citizen_session_extend
from core.languages import language_remember
from providers.models import EidasLevel

SESSION_CITIZEN = "citizen_id"
SESSION_LEVEL = "citizen_eidas_level"
SESSION_PROVIDER = "citizen_provider"
SESSION_ID_TOKEN = "citizen_id_token"
SESSION_SEEN = "citizen_seen_at"
_KEYS = (SESSION_CITIZEN, SESSION_LEVEL, SESSION_PROVIDER, SESSION_ID_TOKEN, SESSION_SEEN)
_CACHE_ATTR = "_citizen_cache"
# The last visit is written at most this often: a session saved on every page would cost every
# page a write. The idle timeout may so end a session up to this much early, never late.
SEEN_REFRESH_SECONDS = 60

View = TypeVar("View", bound=Callable[..., HttpResponse])


@dataclass(frozen=True)
class ProviderSession:
    """What logging out at the provider needs."""

    provider: str
    id_token: str


def login_citizen(
    request: HttpRequest, citizen: Citizen, eidas_level: str, *, provider: str = "", id_token: str = ""
) -> None:
    if eidas_level not in EidasLevel.values:
        raise ValueError(f"unknown eIDAS level {eidas_level!r}")
    # A new session key on every login: a key planted before login (session fixation) is worthless.
    request.session.cycle_key()
    for key in _KEYS:
        request.session.pop(key, None)
    request.session[SESSION_CITIZEN] = str(citizen.pk)
    request.session[SESSION_LEVEL] = eidas_level
    request.session[SESSION_SEEN] = int(time.time())
    if provider:
        request.session[SESSION_PROVIDER] = provider
        request.session[SESSION_ID_TOKEN] = id_token
    setattr(request, _CACHE_ATTR, citizen)
    language_remember(citizen, getattr(request, "LANGUAGE_CODE", ""))


def logout_citizen(request: HttpRequest) -> ProviderSession | None:
    """Ends the citizen's session here; returns the provider session to end there, if any."""
    citizen = current_citizen(request)
    provider = request.session.get(SESSION_PROVIDER)
    id_token = request.session.get(SESSION_ID_TOKEN)
    request.session.flush()
    setattr(request, _CACHE_ATTR, None)
    if citizen is not None:
        citizen_session_end(citizen=citizen)
    return ProviderSession(provider, id_token) if provider and id_token else None


def _forget(request: HttpRequest) -> None:
    for key in _KEYS:
        request.session.pop(key, None)
    request.session.cycle_key()


def current_citizen(request: HttpRequest) -> Citizen | None:
    if hasattr(request, _CACHE_ATTR):
        return cast(Citizen | None, getattr(request, _CACHE_ATTR))
    citizen = None
    citizen_id = request.session.get(SESSION_CITIZEN)
    if citizen_id:
        now = int(time.time())
        seen = request.session.get(SESSION_SEEN)
        if seen is not None and now - int(seen) > settings.CITIZEN_SESSION_IDLE_SECONDS:
            _forget(request)
        else:
            citizen = Citizen.objects.filter(pk=citizen_id).first()
            if citizen is not None:
                if seen is None or now - int(seen) >= SEEN_REFRESH_SECONDS:
                    request.session[SESSION_SEEN] = now
                citizen_session_extend(citizen=citizen)
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
