"""Demo data of the providers app: the demo catalogue as rows, the demo habilitations, the demo
agents of every organisation, and the gateway's operator with its demo auditor (the audit console
belongs to it, never to an organisation that exchanges data)."""

from __future__ import annotations

from typing import TextIO

from django.conf import settings

from audit.services import Actor
from providers.demodata import catalogue
from providers.models import Agent, AgentRole, AttestationField, AttestationType, Habilitation, Organisation
from providers.selectors import habilitation_in_force
from providers.services import habilitation_approve, habilitation_submit, role_grant
from providers.services.agents import AgentProfile, agent_login

DEMO_CONSUMER = "mairie-villeurbanne"
DEMO_CONSUMER_WITHOUT_HABILITATION = "cd-rhone"
# The gateway's operator in the demo: its agents are the auditors (Organisation.Kind.SUPERVISORY_BODY).
DEMO_SUPERVISOR = "dinum"
DEMO_SUPERVISOR_SIRET = "13002526500013"


def catalogue_load(*, adapter_kind: str = AttestationType.AdapterKind.DEMO, base_url: str = "") -> None:
    """Creates or updates the sandbox organisations and attestation types (idempotent)."""
    for spec in catalogue.ORGANISATIONS:
        kind = Organisation.Kind(spec.kind)
        Organisation.objects.update_or_create(
            code=spec.code,
            defaults={
                "siret": spec.siret,
                "name": spec.name,
                "kind": kind,
                "dpo_email": spec.dpo_email,
                "return_url_origins": list(spec.return_url_origins),
            },
        )
    for type_spec in catalogue.ATTESTATION_TYPES:
        attestation_type, _ = AttestationType.objects.update_or_create(
            slug=type_spec.slug,
            defaults={
                "holder": Organisation.objects.get(code=type_spec.holder),
                "title_fr": type_spec.title_fr,
                "title_en": type_spec.title_en,
                "description_fr": type_spec.description_fr,
                "description_en": type_spec.description_en,
                "subject_kind": type_spec.subject_kind,
                "eidas_min": type_spec.min_eidas_level,
                "legal_basis_text": type_spec.legal_basis.text_fr,
                "legal_basis_text_en": type_spec.legal_basis.text_en,
                "legal_basis_reference": type_spec.legal_basis.reference,
                "purposes": [
                    {"code": p.code, "label_fr": p.label_fr, "label_en": p.label_en, "iri": p.dpv_iri}
                    for p in type_spec.accepted_purposes()
                ],
                "adapter_kind": adapter_kind,
                "adapter_base_url": base_url,
                "adapter_token_env": "SANDBOX_PROVIDER_TOKEN" if base_url else "",
            },
        )
        for position, field_spec in enumerate(type_spec.fields):
            AttestationField.objects.update_or_create(
                attestation_type=attestation_type,
                name=field_spec.name,
                defaults={
                    "label_fr": field_spec.label_fr,
                    "label_en": field_spec.label_en,
                    "json_type": field_spec.type,
                    "format": field_spec.format or "",
                    "schema": field_spec.json_schema(),
                    "position": position,
                },
            )


def demo_habilitations_load() -> int:
    """The demo city hall may ask for every type, all fields, for its first accepted purpose.

    Goes through the habilitation services, so the trail shows how each came to be approved.
    Idempotent: a type already covered is left alone. Returns how many were approved now.
    """
    consumer = Organisation.objects.get(code=DEMO_CONSUMER)
    actor = Actor.system()
    approved = 0
    for attestation_type in AttestationType.objects.select_related("holder").prefetch_related("fields"):
        if habilitation_in_force(consumer=consumer, attestation_type=attestation_type) is not None:
            continue
        habilitation = Habilitation.objects.filter(
            consumer=consumer, attestation_type=attestation_type, status=Habilitation.Status.SUBMITTED
        ).first()
        if habilitation is None:
            purpose = attestation_type.purposes[0]
            habilitation = habilitation_submit(
                consumer=consumer,
                attestation_type=attestation_type,
                fields=[f.name for f in attestation_type.fields.all()],
                purpose_code=purpose["code"],
                purpose_text=purpose["label_fr"],
                legal_basis=attestation_type.legal_basis_reference or attestation_type.legal_basis_text,
                retention_days=90,
                dpo_email=consumer.dpo_email,
                actor=actor,
            )
        habilitation_approve(habilitation=habilitation, actor=actor)
        approved += 1
    return approved


def demo_agent(organisation: Organisation) -> Agent:
    """The demo agent of `organisation` (the agents' demo login; idempotent)."""
    profile = AgentProfile(
        siret=organisation.siret,
        email=f"agent.demo@{organisation.code}.example.fr",
        given_name="Agent",
        usual_name=f"de démonstration ({organisation.name})",
    )
    return agent_login(issuer="", subject=f"demo-{organisation.siret}", profile=profile)


def demo_supervisor_load() -> Organisation:
    """The gateway's operator (a supervisory body: its agents may be auditors; idempotent)."""
    supervisor, _ = Organisation.objects.update_or_create(
        code=DEMO_SUPERVISOR,
        defaults={
            "siret": DEMO_SUPERVISOR_SIRET,
            "name": "Direction interministérielle du numérique (opérateur de la passerelle)",
            "kind": Organisation.Kind.SUPERVISORY_BODY,
            "dpo_email": "dpo@dinum.sandbox.invalid",
        },
    )
    return supervisor


def demo_agents_load() -> Agent:
    """Every organisation's demo agent is its administrator and habilitation manager (to ask for
    habilitations in the portal, or review them for the types it holds); the operator's demo agent
    is its administrator and auditor (the audit console). Granted through the role service;
    returns the auditor."""
    supervisor = demo_supervisor_load()
    for organisation in Organisation.objects.filter(active=True).exclude(pk=supervisor.pk):
        other = demo_agent(organisation)
        for managing in (AgentRole.Role.ADMINISTRATOR, AgentRole.Role.HABILITATION_MANAGER):
            role_grant(agent=other, role=managing, actor=Actor.system())
    auditor = demo_agent(supervisor)
    for role in (AgentRole.Role.ADMINISTRATOR, AgentRole.Role.AUDITOR):
        role_grant(agent=auditor, role=role, actor=Actor.system())
    return auditor


def seed(out: TextIO) -> None:
    catalogue_load()
    approved = demo_habilitations_load()
    auditor = demo_agents_load()
    types, organisations = AttestationType.objects.count(), len(catalogue.ORGANISATIONS)
    in_force = Habilitation.objects.filter(consumer__code=DEMO_CONSUMER, status=Habilitation.Status.APPROVED).count()
    out.write(
        f"Catalogue: {types} attestation types from {organisations} organisations; "
        f"{DEMO_CONSUMER} holds {in_force} approved habilitations ({approved} new).\n"
        f"Agents: every organisation's demo agent is its administrator and habilitation manager; "
        f"the audit console is for {auditor.organisation.name}'s demo agent, the gateway's auditor "
        f"(log in at {settings.GATEWAY_BASE_URL}/agents/connexion/demo/, then the portal at /agents/ "
        f"or the console at /audit/console/).\n"
    )
