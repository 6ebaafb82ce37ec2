"""The audit event every consent transition writes, shaped the same way for all of them.

An event has one `attestation_type` and one `provider` column. A consent with one type fills
them with its slug and its holder's SIRET, and lists plain field names. A consent over several
types leaves `attestation_type` empty (no type would be "the" type), fills `provider` only when
every type has the same holder, and qualifies each field as `<slug>:<field>`. `detail["types"]`
and `detail["providers"]` always list every slug and SIRET (space separated: detail values are
scalars), so the trail can be searched the same way whatever the number of types.
"""

from __future__ import annotations

from collections.abc import Mapping

from audit.models import ActorKind, EventType
from audit.services import Actor, DetailValue, event_record
from consent.models import Citizen, Consent, ConsentItem


def citizen_actor(citizen: Citizen) -> Actor:
    # The keyed hash, never the identity: actors are published in the trail.
    return Actor(ActorKind.CITIZEN, citizen.ref)


def acting_detail(consent: Consent) -> dict[str, DetailValue]:
    """Who decided and on what ground, for a decision's event (the subject is its reference)."""
    if not consent.ground:
        return {}
    detail: dict[str, DetailValue] = {"ground": consent.ground}
    if consent.actor is not None:
        detail["actor_ref"] = consent.actor.ref
    if consent.mandate_id is not None:
        detail["mandate"] = str(consent.mandate_id)
    if consent.register_check_id is not None:
        detail["register_check"] = str(consent.register_check_id)
    return detail


def consent_items(consent: Consent) -> list[ConsentItem]:
    return list(consent.items.select_related("attestation_type__holder", "habilitation").order_by("id"))


def consent_event_record(
    *,
    type: EventType,
    actor: Actor,
    consent: Consent,
    items: list[ConsentItem],
    detail: Mapping[str, DetailValue] | None = None,
) -> int:
    slugs = [item.attestation_type.slug for item in items]
    sirets = list(dict.fromkeys(item.attestation_type.holder.siret for item in items))
    if len(items) == 1:
        attestation_type, fields = slugs[0], list(items[0].fields)
    else:
        attestation_type = ""
        fields = [f"{item.attestation_type.slug}:{name}" for item in items for name in item.fields]
    return event_record(
        type=type,
        actor=actor,
        # The subject: the company's reference for a company's consent, else the citizen's.
        citizen_ref=consent.subject_ref,
        consumer=consent.consumer.siret,
        provider=sirets[0] if len(sirets) == 1 else "",
        attestation_type=attestation_type,
        fields=fields,
        purpose=consent.purpose_code,
        consent_id=consent.pk,
        detail={
            "types": " ".join(slugs),
            "providers": " ".join(sirets),
            "status": consent.status,
            "version": consent.version,
            **(detail or {}),
        },
    )
