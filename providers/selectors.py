"""Reads of the providers app: the public catalogue, the habilitations in force, agents' roles."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from django.db.models import F, JSONField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import JSONObject
from django.utils import timezone

from core.errors import NotFound
from core.sqljson import JSONArrayAgg, JSONColumn
from providers import rules
from providers.models import (
    SLUG_RE,
    Agent,
    AgentInvitation,
    AgentRole,
    AttestationField,
    AttestationType,
    Habilitation,
    HabilitationStep,
    Organisation,
    field_json_schema,
)


def _approved(consumer: Organisation) -> QuerySet[Habilitation]:
    """The candidates of `habilitation_in_force` (the rule decides; this only narrows down)."""
    return Habilitation.objects.filter(consumer=consumer, status=Habilitation.Status.APPROVED).select_related(
        "attestation_type"
    )


def _in_force(habilitation: Habilitation, today: dt.date) -> bool:
    return rules.habilitation_in_force(
        status=habilitation.status,
        valid_until=habilitation.valid_until,
        type_active=habilitation.attestation_type.active,
        today=today,
    )


def habilitation_in_force(*, consumer: Organisation, attestation_type: AttestationType) -> Habilitation | None:
    """The consumer's habilitation in force for this type (the latest decided), if any."""
    if not consumer.active:
        return None
    today = timezone.localdate()
    candidates = _approved(consumer).filter(attestation_type=attestation_type).order_by("-decided_at", "-created_at")
    return next((habilitation for habilitation in candidates if _in_force(habilitation, today)), None)


def attestation_type_slugs_in_force(*, consumer: Organisation) -> set[str]:
    """The attestation types the consumer's OAuth clients may ever be granted: its scope ceiling."""
    if not consumer.active:
        return set()
    today = timezone.localdate()
    return {h.attestation_type.slug for h in _approved(consumer) if _in_force(h, today)}


def attestation_type_slugs_held(*, holder_id: int) -> set[str]:
    """The attestation types an organisation provides (withdrawn ones included: tokens issued
    before the withdrawal still name them)."""
    return set(AttestationType.objects.filter(holder_id=holder_id).values_list("slug", flat=True))


def field_schemas_subquery(type_id: str) -> Subquery:
    """The fields of the attestation type whose id is the outer query's column `type_id`, as one
    JSON array (NULL without fields): a query reading a type reads its fields' schemas with it,
    in the same round trip and as fresh as the type itself. `field_schemas_from` reads it."""
    return Subquery(
        AttestationField.objects.filter(attestation_type_id=OuterRef(type_id))
        .order_by()
        .values("attestation_type_id")
        .annotate(
            fields=JSONArrayAgg(
                JSONObject(name="name", json_type="json_type", format="format", schema=JSONColumn("schema"))
            )
        )
        .values("fields"),
        output_field=JSONField(),
    )


def field_schemas_from(rows: Iterable[Mapping[str, Any]] | None) -> dict[str, dict[str, Any]]:
    """The JSON Schema of each field, by name, from what `field_schemas_subquery` read."""
    return {
        row["name"]: field_json_schema(json_type=row["json_type"], format=row["format"], schema=row["schema"])
        for row in rows or ()
    }


def organisation_get(*, organisation_id: int) -> Organisation:
    organisation = Organisation.objects.filter(pk=organisation_id).first()
    if organisation is None:
        raise NotFound("No such organisation.")
    return organisation


def _catalogue() -> QuerySet[AttestationType]:
    return (
        AttestationType.objects.filter(active=True)
        .select_related("holder")
        .prefetch_related(Prefetch("fields", queryset=AttestationField.objects.order_by("position", "name")))
        .order_by("slug")
    )


def catalogue_list() -> list[AttestationType]:
    """Every offered attestation type, with its holder and fields loaded (two queries)."""
    return list(_catalogue())


def attestation_type_get(slug: str) -> AttestationType:
    """One offered attestation type, with its holder and fields loaded; NotFound otherwise."""
    # Checked first: a malformed slug (a NUL byte, say) is simply unknown, never a database error.
    attestation_type = _catalogue().filter(slug=slug).first() if SLUG_RE.match(slug) else None
    if attestation_type is None:
        raise NotFound("No attestation type has this slug.")
    return attestation_type


def agent_for_user(user: Any) -> Agent | None:
    """The agent behind a logged-in Django user, None for anyone else (operators, citizens)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return Agent.objects.select_related("organisation").filter(user=user).first()


def _roles_in_force() -> QuerySet[AgentRole]:
    # A role counts in the organisation the agent belongs to now (the SIRET of their latest
    # login), while it is active, and for an active user; the auditor role only in a supervisory
    # body (rules.role_allowed), whatever a row says.
    return AgentRole.objects.filter(
        organisation=F("agent__organisation"), organisation__active=True, agent__user__is_active=True
    ).exclude(Q(role=AgentRole.Role.AUDITOR) & ~Q(organisation__kind__in=rules.AUDITOR_KINDS))


def agent_roles(agent: Agent) -> list[str]:
    return sorted(_roles_in_force().filter(agent=agent).values_list("role", flat=True))


def user_has_role(user: Any, role: str) -> bool:
    """settings.ROLE_PREDICATE: what core.roles asks (the auditor console, for one)."""
    if not getattr(user, "is_authenticated", False):
        return False
    return _roles_in_force().filter(agent__user=user, role=role).exists()


def user_organisation_siret(user: Any) -> str:
    """settings.USER_ORGANISATION: the SIRET of the organisation a logged-in agent belongs to
    ("" for anyone else): an auditor never answers a case about their own organisation."""
    agent = agent_for_user(user)
    return agent.organisation.siret if agent is not None else ""


def actor_holds_role(*, actor_id: str, organisation: Organisation, roles: Iterable[str]) -> bool:
    """Whether the agent the trail names `actor_id` (`agent-<uuid>`) holds one of `roles` in
    `organisation` now."""
    try:
        agent_id = uuid.UUID(actor_id.removeprefix("agent-"))
    except ValueError:
        return False
    return _roles_in_force().filter(agent_id=agent_id, organisation=organisation, role__in=list(roles)).exists()


def agent_get_by_email(*, organisation: Organisation, email: str) -> Agent:
    """The agent of `organisation` with this e-mail address (operators name agents by it)."""
    agent = Agent.objects.select_related("organisation").filter(organisation=organisation, email__iexact=email).first()
    if agent is None:
        raise NotFound("No agent of this organisation has logged in with this e-mail address.")
    return agent


def _habilitations() -> QuerySet[Habilitation]:
    return Habilitation.objects.select_related("consumer", "attestation_type__holder")


def habilitations_for_consumer(*, organisation: Organisation) -> list[Habilitation]:
    """The organisation's own requests, newest first."""
    return list(_habilitations().filter(consumer=organisation).order_by("-updated_at"))


def habilitations_for_provider(*, organisation: Organisation) -> list[Habilitation]:
    """The requests for the types the organisation holds, drafts left out (they are the consumer's)."""
    return list(
        _habilitations()
        .filter(attestation_type__holder=organisation)
        .exclude(status=Habilitation.Status.DRAFT)
        .order_by("-updated_at")
    )


def habilitation_get_for_agent(*, agent: Agent, habilitation_id: uuid.UUID) -> Habilitation:
    """One request, for an agent of its consumer or of the type's holder (a consumer's draft only
    for the consumer); NotFound for anyone else, whether it exists or not."""
    habilitation = _habilitations().filter(pk=habilitation_id).first()
    organisation_id = agent.organisation_id
    if habilitation is None or not (
        habilitation.consumer_id == organisation_id
        or (
            habilitation.attestation_type.holder_id == organisation_id
            and habilitation.status != Habilitation.Status.DRAFT
        )
    ):
        raise NotFound("No such habilitation.")
    return habilitation


def habilitation_steps(*, habilitation: Habilitation) -> list[HabilitationStep]:
    return list(HabilitationStep.objects.filter(habilitation=habilitation).order_by("at", "pk"))


def agent_names(*, actor_ids: Iterable[str]) -> dict[str, str]:
    """The names of the agents the trail calls `agent-<uuid>`, for a history both sides read."""
    ids = []
    for actor_id in actor_ids:
        try:
            ids.append(uuid.UUID(actor_id.removeprefix("agent-")))
        except ValueError:
            continue
    return {agent.actor_id: f"{agent.given_name} {agent.usual_name}" for agent in Agent.objects.filter(pk__in=ids)}


def attestation_types_requestable(*, organisation: Organisation) -> list[AttestationType]:
    """The offered types an organisation may ask for: every one it does not hold itself."""
    return [t for t in catalogue_list() if t.holder_id != organisation.pk]


def agents_with_roles(*, organisation: Organisation, roles: Iterable[str]) -> list[Agent]:
    """The organisation's agents holding one of `roles` now (who an email about it goes to)."""
    return list(
        Agent.objects.filter(
            pk__in=_roles_in_force().filter(organisation=organisation, role__in=list(roles)).values("agent")
        ).order_by("email")
    )


def organisation_members(*, organisation: Organisation) -> list[tuple[Agent, list[str]]]:
    """The organisation's agents with the roles each holds now (two queries)."""
    agents = list(Agent.objects.filter(organisation=organisation).order_by("usual_name", "given_name"))
    held: dict[uuid.UUID, list[str]] = {}
    for agent_id, role in _roles_in_force().filter(organisation=organisation).values_list("agent_id", "role"):
        held.setdefault(agent_id, []).append(role)
    return [(agent, sorted(held.get(agent.pk, []))) for agent in agents]


def agent_get_for_organisation(*, organisation: Organisation, agent_id: uuid.UUID) -> Agent:
    """One agent of the organisation; NotFound for another's, whether they exist or not."""
    agent = Agent.objects.select_related("organisation").filter(pk=agent_id, organisation=organisation).first()
    if agent is None:
        raise NotFound("No such agent.")
    return agent


def invitations_pending(*, organisation: Organisation) -> list[AgentInvitation]:
    return list(
        AgentInvitation.objects.filter(
            organisation=organisation, accepted_at__isnull=True, expires_at__gt=timezone.now()
        ).order_by("-created_at")
    )
