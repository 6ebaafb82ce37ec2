"""What every page of the administrations' portal shares: the logged-in agent, their role checks,
and service errors turned into what a person reads."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any, TypeVar, cast

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from core.errors import GatewayError, InvalidTransition, NotFound, PermissionDeniedError, ValidationError
from providers.models import Agent
from providers.selectors import actor_holds_role, agent_for_user
from providers.services.emails import agent_language_remember

View = TypeVar("View", bound=Callable[..., HttpResponse])


class AgentRequest(HttpRequest):
    agent: Agent


def agent_page(view: View) -> View:
    """Sends anyone but a logged-in agent to the agents' login; turns the selectors' NotFound into
    the site's 404 and the services' PermissionDeniedError into a 403."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        agent = agent_for_user(request.user)
        if agent is None:
            return HttpResponseRedirect(reverse("agent-login") + "?" + urlencode({"next": request.get_full_path()}))
        cast(AgentRequest, request).agent = agent
        agent_language_remember(agent=agent, language=getattr(request, "LANGUAGE_CODE", ""))
        try:
            return view(request, *args, **kwargs)
        except NotFound:
            raise Http404 from None
        except PermissionDeniedError:
            raise PermissionDenied from None

    return cast(View, wrapper)


def require_role(agent: Agent, roles: Iterable[str]) -> None:
    """403 unless the agent holds one of `roles` in their own organisation."""
    if not actor_holds_role(actor_id=agent.actor_id, organisation=agent.organisation, roles=roles):
        raise PermissionDenied


def error_message(error: GatewayError) -> str:
    """A sentence for the page: the services speak to developers, the pages to agents."""
    if isinstance(error, InvalidTransition):
        return _("This request changed in the meantime: read it again before acting.")
    if isinstance(error, ValidationError):
        return _("Some answers are not accepted: correct the fields shown.")
    return _("This action could not be done.")


def add_service_errors(form: Any, error: GatewayError, *, conflict: str = "") -> None:
    """Puts a service's refusal on the form: next to each field it names, else above the form
    (`conflict` says what a refused transition means on this page)."""
    errors = error.extra.get("errors") if isinstance(error, ValidationError) else None
    placed = False
    for name in errors or {}:
        name = getattr(form, "service_names", {}).get(name, name)
        if name in form.fields:
            form.add_error(name, _("This answer is not accepted."))
            placed = True
    if not placed:
        form.add_error(None, conflict if conflict and isinstance(error, InvalidTransition) else error_message(error))
