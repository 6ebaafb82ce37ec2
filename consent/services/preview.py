"""The citizen previews the data a consent would release, before deciding.

The data goes to the citizen's screen only: it is neither stored nor sent to the consumer, and the
trail records that a preview happened (`citizen.previewed`), never what it showed.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from audit.models import EventType
from audit.services import event_record
from consent.models import Citizen, Consent, ConsentItem
from consent.services.trail import citizen_actor
from core.errors import (
    AuthenticationRequired,
    GatewayError,
    InvalidTransition,
    LoaInsufficient,
    ProviderTimeout,
    SubjectNotFound,
)
from providers.adapters import adapter_for, target_for
from providers.adapters.base import CompanySubject, FetchContext, Subject
from providers.models import Organisation
from providers.rules import eidas_highest, eidas_satisfies


@dataclass(frozen=True)
class PreviewItem:
    item: ConsentItem
    fields: dict[str, Any] = field(default_factory=dict)
    # A stable error code (subject_not_found, provider_timeout, provider_error) when it failed.
    error: str = ""


def citizen_subject(citizen: Citizen) -> Subject:
    born = citizen.date_naissance
    if born is None or not citizen.has_identity:
        # Erased once no session needed it (consent.services.citizens): a login brings it back.
        raise AuthenticationRequired("Log in again: your identity is no longer held by the gateway.")
    return Subject(
        nom_naissance=str(citizen.nom_naissance),
        prenoms=tuple(str(citizen.prenoms).split()),
        date_naissance=born,
        sexe=str(citizen.sexe),
        code_cog_lieu_naissance=str(citizen.code_cog_lieu_naissance),
    )


def consent_preview(
    *, consent: Consent, citizen: Citizen, eidas_level: str, actor: Citizen | None = None
) -> list[PreviewItem]:
    """Fetches each type's consented fields live. Not atomic as a whole on purpose: a provider call
    must never hold a database transaction open; each event is written in its own short one."""
    if consent.status != Consent.Status.PENDING:
        raise InvalidTransition("Only a request awaiting your decision can be previewed.")
    items = list(consent.items.select_related("attestation_type__holder").order_by("id"))
    required = eidas_highest([item.attestation_type.eidas_min for item in items])
    if not eidas_satisfies(eidas_level, required):
        raise LoaInsufficient(extra={"required_level": required, "current_level": eidas_level})
    return [
        item_preview(
            item=item,
            citizen=citizen,
            consumer=consent.consumer,
            purpose_code=consent.purpose_code,
            consent=consent,
            actor=actor,
        )
        for item in items
    ]


def item_preview(
    *,
    item: ConsentItem,
    citizen: Citizen,
    consumer: Organisation,
    purpose_code: str,
    consent: Consent | None = None,
    detail: Mapping[str, str] | None = None,
    actor: Citizen | None = None,
) -> PreviewItem:
    """Fetches one item's fields live, for the citizen's eyes only, and records `citizen.previewed`
    in its own short transaction (after the call: a provider call never holds one open). The event
    names `consent` when there is one; `detail` adds to its outcome."""
    context = FetchContext(purpose=purpose_code, consumer_siret=consumer.siret, exchange_id=uuid.uuid4(), preview=True)
    company = consent.company if consent is not None else None
    # A company's request previews the company's data, to whoever may act for it.
    subject: Subject | CompanySubject = (
        CompanySubject(siren=company.siren, siret=company.siret) if company is not None else citizen_subject(citizen)
    )
    try:
        result = adapter_for(target_for(item.attestation_type)).fetch(subject, list(item.fields), context)
    except (SubjectNotFound, ProviderTimeout) as error:
        preview = PreviewItem(item=item, error=error.code)
    except GatewayError:
        # Whatever else went wrong at the provider is the same thing to the citizen.
        preview = PreviewItem(item=item, error="provider_error")
    else:
        preview = PreviewItem(item=item, fields=result.fields)
    with transaction.atomic():
        event_record(
            type=EventType.CITIZEN_PREVIEWED,
            # Who looked: the person, or whoever acts for them (the subject is `citizen_ref`).
            actor=citizen_actor(actor or citizen),
            citizen_ref=company.ref if company is not None else citizen.ref,
            consumer=consumer.siret,
            provider=item.attestation_type.holder.siret,
            attestation_type=item.attestation_type.slug,
            fields=list(item.fields),
            purpose=purpose_code,
            consent_id=consent.pk if consent is not None else None,
            detail={"outcome": preview.error or "succeeded", **(detail or {})},
        )
    return preview
