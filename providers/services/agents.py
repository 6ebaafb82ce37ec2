"""Agents of administrations and their roles.

An agent exists once they have logged in through ProConnect with the SIRET of a registered, active
organisation (`agent_login`); an unknown SIRET creates nothing. Roles (administrator, habilitation
manager, auditor) are granted and revoked in the agent's organisation by `role_grant` and
`role_revoke`, each with its `role.*` event in the same transaction. Who may: an operator (the
first administrator: `manage.py grant_role`), the system (demo data), or an administrator of that
organisation, who may not remove its last administrator. The auditor role is held only in a
supervisory body (`rules.role_allowed`): whoever grants it, an organisation that exchanges data
through the gateway never audits the trail.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from audit.models import ActorKind, EventType
from audit.services import Actor, event_record
from core.errors import Conflict, InvalidTransition, PermissionDeniedError, ValidationError
from core.oidc import LoginFailed
from providers import rules
from providers.models import Agent, AgentInvitation, AgentRole, Organisation
from providers.services.emails import absolute, email_queue
from providers.siret import siret_is_valid

Role = AgentRole.Role
ROLE_MANAGERS = {ActorKind.OPERATOR, ActorKind.SYSTEM}
INVITATION_VALIDITY = dt.timedelta(days=30)


@dataclass(frozen=True)
class AgentProfile:
    """What ProConnect says of an agent (scopes email, given_name, usual_name, siret, uid)."""

    siret: str
    email: str
    given_name: str
    usual_name: str
    uid: str = ""


def agent_profile_from_claims(claims: Mapping[str, Any]) -> AgentProfile:
    """Raises LoginFailed: `identity_incomplete` without a name, an e-mail address or a SIRET."""
    values = {name: claims.get(name) for name in ("siret", "email", "given_name", "usual_name")}
    if not all(isinstance(value, str) and value.strip() for value in values.values()):
        raise LoginFailed("identity_incomplete")
    try:
        validate_email(values["email"])
    except DjangoValidationError:
        raise LoginFailed("identity_incomplete") from None
    uid = claims.get("uid")
    return AgentProfile(
        siret=str(values["siret"]).strip(),
        email=str(values["email"]).strip(),
        given_name=str(values["given_name"]).strip(),
        usual_name=str(values["usual_name"]).strip(),
        uid=str(uid) if uid is not None else "",
    )


def agent_actor(agent: Agent) -> Actor:
    return Actor(ActorKind.AGENT, agent.actor_id)


@transaction.atomic
def agent_login(*, issuer: str, subject: str, profile: AgentProfile) -> Agent:
    """The agent logging in as `subject` at `issuer`, tied to the organisation of their SIRET;
    raises LoginFailed(`organisation_unknown`), creating nothing, when no active organisation has it."""
    organisation = (
        Organisation.objects.filter(siret=profile.siret, active=True).first() if siret_is_valid(profile.siret) else None
    )
    if organisation is None:
        raise LoginFailed("organisation_unknown")
    now = timezone.now()
    values = {
        "organisation": organisation,
        "email": profile.email,
        "given_name": profile.given_name,
        "usual_name": profile.usual_name,
        "uid": profile.uid,
        "last_login_at": now,
    }
    agent = Agent.objects.select_for_update().select_related("user").filter(issuer=issuer, subject=subject).first()
    if agent is None:
        agent_id = uuid.uuid4()
        # The user name is the agent's actor id: what the trail shows of them, whatever acts.
        user = get_user_model().objects.create_user(
            username=f"agent-{agent_id}",
            email=profile.email,
            first_name=profile.given_name[:150],
            last_name=profile.usual_name[:150],
        )
        agent = Agent.objects.create(id=agent_id, user=user, issuer=issuer, subject=subject, created_at=now, **values)
    else:
        for name, value in values.items():
            setattr(agent, name, value)
        agent.save(update_fields=[name for name in values])
        user = agent.user
        user.first_name, user.last_name, user.email = profile.given_name[:150], profile.usual_name[:150], profile.email
        user.save(update_fields=["first_name", "last_name", "email"])
    _invitations_accept(agent)
    return agent


def _invitations_accept(agent: Agent) -> None:
    """Grants the roles an organisation's administrators invited this agent's address to."""
    now = timezone.now()
    pending = AgentInvitation.objects.select_for_update().filter(
        organisation=agent.organisation, email__iexact=agent.email, accepted_at__isnull=True, expires_at__gt=now
    )
    for invitation in pending:
        for role in invitation.roles:
            role_grant(agent=agent, role=role, actor=Actor(ActorKind.SYSTEM, f"invitation-{invitation.pk}"))
        invitation.accepted_at, invitation.accepted_by = now, agent
        invitation.save(update_fields=["accepted_at", "accepted_by"])


@transaction.atomic
def agent_invite(*, organisation: Organisation, email: str, roles: list[str], actor: Actor) -> AgentInvitation:
    """Invites `email` to the organisation with `roles`, and tells them by email (in the inviter's
    language: the invited person's is not known yet). A pending invitation of the same address is
    replaced."""
    _require_manager(actor, organisation)
    errors: dict[str, str] = {}
    try:
        validate_email(email)
    except DjangoValidationError:
        errors["email"] = "A valid email address."
    allowed = rules.roles_allowed(organisation_kind=organisation.kind)
    if not roles or any(role not in allowed for role in roles):
        errors["roles"] = "One or more of: " + ", ".join(allowed)
    if errors:
        raise ValidationError("The invitation is not valid.", errors=errors)
    if Agent.objects.filter(organisation=organisation, email__iexact=email).exists():
        # Roles are granted at a login: an invitation of a member would only wait for their next one.
        raise Conflict("This address is already a member's: change their roles instead.")
    AgentInvitation.objects.filter(organisation=organisation, email__iexact=email, accepted_at__isnull=True).delete()
    now = timezone.now()
    invitation = AgentInvitation.objects.create(
        organisation=organisation,
        email=email,
        roles=sorted(set(roles)),
        invited_by=actor.id,
        created_at=now,
        expires_at=now + INVITATION_VALIDITY,
    )
    event_record(
        type=EventType.AGENT_INVITED,
        actor=actor,
        detail={"organisation": organisation.siret, "invitation": str(invitation.pk), "roles": invitation.roles},
    )
    inviter_id = _agent_id(actor) if actor.kind == ActorKind.AGENT else None
    inviter = Agent.objects.filter(pk=inviter_id).first() if inviter_id is not None else None
    email_queue(
        to=email,
        language=inviter.language if inviter is not None else settings.LANGUAGE_CODE,
        kind="agent.invited",
        template="providers/emails/agent_invited",
        context={
            "organisation": organisation,
            "inviter": inviter,
            "roles": [Role(role).label for role in invitation.roles],
            "url": absolute(reverse("agent-login") + "?next=" + reverse("agent-space")),
            "expires_at": invitation.expires_at,
        },
    )
    return invitation


def _require_manager(actor: Actor, organisation: Organisation) -> None:
    if actor.kind in ROLE_MANAGERS:
        return
    acting = _agent_id(actor) if actor.kind == ActorKind.AGENT else None
    if (
        acting is not None
        and AgentRole.objects.filter(
            agent__pk=acting, agent__organisation=organisation, organisation=organisation, role=Role.ADMINISTRATOR
        ).exists()
    ):
        return
    raise PermissionDeniedError("Only an operator or an administrator of the organisation manages its members.")


def _agent_id(actor: Actor) -> uuid.UUID | None:
    try:
        return uuid.UUID(actor.id.removeprefix("agent-"))
    except ValueError:
        return None


def _require_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError("Unknown role.", errors={"role": [{"code": "invalid", "message": role}]})


def _record(type: EventType, *, agent: Agent, role: str, actor: Actor) -> None:
    event_record(
        type=type,
        actor=actor,
        detail={"organisation": agent.organisation.siret, "agent": agent.actor_id, "role": role},
    )


@transaction.atomic
def role_grant(*, agent: Agent, role: str, actor: Actor) -> AgentRole:
    """Gives `agent` the `role` in their organisation (idempotent: a role held is left as it is)."""
    _require_role(role)
    agent = Agent.objects.select_for_update().select_related("organisation").get(pk=agent.pk)
    _require_manager(actor, agent.organisation)
    if not rules.role_allowed(role=role, organisation_kind=agent.organisation.kind):
        raise PermissionDeniedError("Only agents of the gateway's operator or of a supervisory body are auditors.")
    held = AgentRole.objects.filter(agent=agent, organisation=agent.organisation, role=role).first()
    if held is not None:
        return held
    granted = AgentRole.objects.create(agent=agent, organisation=agent.organisation, role=role, granted_by=actor.id)
    _record(EventType.ROLE_GRANTED, agent=agent, role=role, actor=actor)
    return granted


@transaction.atomic
def role_revoke(*, agent: Agent, role: str, actor: Actor) -> bool:
    """Takes the `role` in their organisation away from `agent`; False when they did not hold it."""
    _require_role(role)
    agent = Agent.objects.select_for_update().select_related("organisation").get(pk=agent.pk)
    organisation = agent.organisation
    _require_manager(actor, organisation)
    held = AgentRole.objects.filter(agent=agent, organisation=organisation, role=role)
    if not held.exists():
        return False
    if role == Role.ADMINISTRATOR and actor.kind not in ROLE_MANAGERS:
        # Locked together: two administrators removing each other must not leave none.
        administrators = AgentRole.objects.select_for_update().filter(organisation=organisation, role=role)
        if len(administrators) <= 1:
            raise InvalidTransition("An organisation keeps at least one administrator; ask an operator.")
    held.delete()
    _record(EventType.ROLE_REVOKED, agent=agent, role=role, actor=actor)
    return True


@transaction.atomic
def agent_login_failed_record(*, reason: str, provider: str) -> int:
    """`agent.login_failed`: why an agent's login was refused; nothing about the person."""
    return event_record(
        type=EventType.AGENT_LOGIN_FAILED,
        actor=Actor(ActorKind.AGENT, "anonymous"),
        detail={"reason": reason, "provider": provider},
    )
