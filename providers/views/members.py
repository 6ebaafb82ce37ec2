"""The members of an organisation, for its administrators: invite an address with roles, grant
and withdraw roles. Each through the agents' services, with its event. Another organisation's agent
does not exist for them (404); other roles are refused (403)."""

from __future__ import annotations

import uuid
from typing import Any, cast

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from core.errors import Conflict, GatewayError, InvalidTransition
from providers import rules
from providers.forms import InvitationForm, RoleForm
from providers.models import Agent, AgentRole
from providers.selectors import agent_get_for_organisation, invitations_pending, organisation_members
from providers.services.agents import agent_actor, agent_invite, role_grant, role_revoke
from providers.views.portal import AgentRequest, add_service_errors, agent_page, error_message, require_role

ROLES = {AgentRole.Role.ADMINISTRATOR}


def _administrator(request: HttpRequest) -> Agent:
    agent = cast(AgentRequest, request).agent
    require_role(agent, ROLES)
    return agent


def _page(request: HttpRequest, agent: Agent, form: InvitationForm, *, status: int = 200) -> HttpResponse:
    allowed = rules.roles_allowed(organisation_kind=agent.organisation.kind)
    context: dict[str, Any] = {
        "title": _("Members"),
        "members": [
            {"agent": member, "roles": roles, "missing": [AgentRole.Role(r) for r in allowed if r not in roles]}
            for member, roles in organisation_members(organisation=agent.organisation)
        ],
        "role_labels": dict(AgentRole.Role.choices),
        "invitations": invitations_pending(organisation=agent.organisation),
        "form": form,
    }
    return render(request, "providers/portal/members.html", context, status=status)


@require_http_methods(["GET", "POST"])
@never_cache
@agent_page
def members(request: HttpRequest) -> HttpResponse:
    """The members and pending invitations; a POST invites."""
    agent = _administrator(request)
    form = InvitationForm(request.POST or None, organisation=agent.organisation)
    if request.method == "POST" and form.is_valid():
        try:
            agent_invite(
                organisation=agent.organisation,
                email=form.cleaned_data["email"],
                roles=list(form.cleaned_data["roles"]),
                actor=agent_actor(agent),
            )
        except Conflict:
            form.add_error(
                "email", _("This person is already a member of your organisation: change their roles in the list.")
            )
        except GatewayError as error:
            add_service_errors(form, error)
        else:
            messages.success(request, _("The invitation is sent."))
            return HttpResponseRedirect(reverse("portal-members"))
    return _page(request, agent, form, status=400 if form.errors else 200)


@require_POST
@agent_page
def member_role(request: HttpRequest, agent_id: uuid.UUID) -> HttpResponse:
    agent = _administrator(request)
    member = agent_get_for_organisation(organisation=agent.organisation, agent_id=agent_id)
    form = RoleForm(request.POST)
    if form.is_valid():
        role, actor = form.cleaned_data["role"], agent_actor(agent)
        try:
            if form.cleaned_data["action"] == RoleForm.GRANT:
                role_grant(agent=member, role=role, actor=actor)
            else:
                role_revoke(agent=member, role=role, actor=actor)
        except InvalidTransition:
            # The only refusal a role change meets once the page allowed it: the last administrator.
            messages.error(request, _("An organisation keeps at least one administrator: ask an operator."))
        except GatewayError as error:
            messages.error(request, error_message(error))
    return HttpResponseRedirect(reverse("portal-members"))
