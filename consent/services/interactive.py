"""The interactive consent (OAuth authorization code flow): the consent screen at `/oauth/authorize/`.

Unlike the decoupled flow, nothing is stored while the citizen reads the screen: the request lives
in the authorization request's parameters until the citizen approves, and then the consent is
requested and approved in one transaction (`consent.requested` then `consent.approved`), so a
failure anywhere leaves no pending consent behind. A rejection stores nothing; the consumer hears
of it through the OAuth error response.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from django.db import transaction
from oauth2_provider.models import Application

from audit.models import EventType
from audit.services import event_record
from consent.models import Citizen, Consent, ConsentItem
from consent.services.lifecycle import consent_approve
from consent.services.preview import PreviewItem, citizen_subject
from consent.services.requests import MAX_DURATION_DAYS, consent_request_create
from consent.services.trail import citizen_actor
from consent.terms import Terms, terms_build
from gateway.errors import (
    GatewayError,
    HabilitationMissing,
    LoaInsufficient,
    ProviderTimeout,
    SubjectNotFound,
    ValidationError,
)
from providers.adapters import adapter_for
from providers.adapters.base import FetchContext
from providers.models import AttestationType, EidasLevel, Habilitation, Organisation
from providers.selectors import habilitation_in_force

DEFAULT_DURATION_DAYS = 30

Errors = dict[str, list[dict[str, str]]]


@dataclass(frozen=True)
class InteractiveRequest:
    """What a consumer asks for on the consent screen, checked against its habilitations."""

    consumer: Organisation
    client: Application
    # (type, habilitation) in the order the scopes named them; the fields are the habilitation's.
    selections: list[tuple[AttestationType, Habilitation]]
    purpose_code: str
    duration_days: int
    max_uses: int | None

    @property
    def slugs(self) -> list[str]:
        return [attestation_type.slug for attestation_type, _ in self.selections]

    @property
    def eidas_min(self) -> str:
        return max((t.eidas_min for t, _ in self.selections), key=EidasLevel.rank)

    def terms(self) -> Terms:
        return terms_build(
            consumer=self.consumer,
            selections=[(t, list(habilitation.fields), habilitation) for t, habilitation in self.selections],
            purpose_code=self.purpose_code,
            purpose_text=self.selections[0][1].purpose_text,
            duration_days=self.duration_days,
            max_uses=self.max_uses,
        )


def _add(errors: Errors, field: str, code: str, message: str) -> None:
    errors.setdefault(field, []).append({"code": code, "message": message})


def interactive_request_build(
    *,
    consumer: Organisation,
    client: Application,
    attestation_types: Sequence[str],
    purpose_code: str = "",
    duration_days: int = DEFAULT_DURATION_DAYS,
    max_uses: int | None = None,
) -> InteractiveRequest:
    """Checks an authorization request's terms without writing anything.

    The purpose defaults to the habilitations' (they must all share it, as a consent has one
    purpose). Raises ValidationError for bad terms and HabilitationMissing for a type the consumer
    may not ask for (the OAuth scope ceiling normally refused it already).
    """
    slugs = list(attestation_types)
    errors: Errors = {}
    if not slugs:
        _add(errors, "attestation_types", "required", "Ask for at least one attestation type.")
    if len(set(slugs)) != len(slugs):
        _add(errors, "attestation_types", "duplicate", "Each attestation type may appear once.")
    if not 1 <= duration_days <= MAX_DURATION_DAYS:
        _add(errors, "duration_days", "out_of_range", f"A consent lasts from 1 to {MAX_DURATION_DAYS} days.")
    if max_uses is not None and max_uses < 1:
        _add(errors, "max_uses", "out_of_range", "max_uses is at least 1 (omit it for no limit).")
    if errors:
        raise ValidationError("The authorization request's terms are not valid.", errors=errors)

    found = {
        t.slug: t
        for t in AttestationType.objects.filter(slug__in=slugs, active=True)
        .select_related("holder")
        .prefetch_related("fields")
    }
    selections = []
    for slug in slugs:
        attestation_type = found.get(slug)
        habilitation = (
            habilitation_in_force(consumer=consumer, attestation_type=attestation_type)
            if attestation_type is not None
            else None
        )
        if attestation_type is None or habilitation is None:
            raise HabilitationMissing(
                f"Your organisation has no approved habilitation for {slug}.", extra={"attestation_type": slug}
            )
        selections.append((attestation_type, habilitation))

    purpose_code = purpose_code or selections[0][1].purpose_code
    for attestation_type, habilitation in selections:
        if habilitation.purpose_code != purpose_code:
            _add(
                errors,
                "purpose",
                "outside_habilitation",
                f"Your habilitation for {attestation_type.slug} is for the purpose '{habilitation.purpose_code}'.",
            )
    if errors:
        raise ValidationError("The authorization request goes beyond your habilitations.", errors=errors)
    return InteractiveRequest(
        consumer=consumer,
        client=client,
        selections=selections,
        purpose_code=purpose_code,
        duration_days=duration_days,
        max_uses=max_uses,
    )


@transaction.atomic
def interactive_consent_approve(*, request: InteractiveRequest, citizen: Citizen, eidas_level: str) -> Consent:
    """The citizen approved on the consent screen: the consent is requested by the client and
    approved by the citizen in one transaction, with both audit events, or not at all."""
    consent = consent_request_create(
        consumer=request.consumer,
        client=request.client,
        attestation_types=request.slugs,
        # The screen showed every field of each habilitation: those are what the citizen agreed to.
        fields={t.slug: list(habilitation.fields) for t, habilitation in request.selections},
        purpose_code=request.purpose_code,
        purpose_text="",
        duration_days=request.duration_days,
        max_uses=request.max_uses,
    )
    return consent_approve(consent=consent, citizen=citizen, eidas_level=eidas_level)


def interactive_preview(*, request: InteractiveRequest, citizen: Citizen, eidas_level: str) -> list[PreviewItem]:
    """The citizen's own data, fetched live for their eyes only, before any consent exists.

    `consent_preview` needs a stored pending consent, which this flow does not have until approval;
    this is the same fetch over the request's terms. Each `citizen.previewed` event has no consent
    id and names the client instead. Not atomic as a whole: a provider call never holds a
    transaction open.
    """
    if EidasLevel.rank(eidas_level) < EidasLevel.rank(request.eidas_min):
        raise LoaInsufficient(extra={"required_level": request.eidas_min, "current_level": eidas_level})
    subject = citizen_subject(citizen)
    results = []
    for attestation_type, habilitation in request.selections:
        # Unsaved: it only carries the terms to the page, like a pending consent's item would.
        item = ConsentItem(
            attestation_type=attestation_type, habilitation=habilitation, fields=_fields(attestation_type, habilitation)
        )
        context = FetchContext(
            purpose=request.purpose_code,
            consumer_siret=request.consumer.siret,
            exchange_id=uuid.uuid4(),
            preview=True,
        )
        try:
            result = adapter_for(attestation_type).fetch(subject, list(item.fields), context)
        except (SubjectNotFound, ProviderTimeout) as error:
            results.append(PreviewItem(item=item, error=error.code))
        except GatewayError:
            results.append(PreviewItem(item=item, error="provider_error"))
        else:
            results.append(PreviewItem(item=item, fields=result.fields))
        _previewed_record(request=request, citizen=citizen, item=item, outcome=results[-1].error or "succeeded")
    return results


def _fields(attestation_type: AttestationType, habilitation: Habilitation) -> list[str]:
    # Catalogue order, as a stored consent keeps them.
    order = {field.name: field.position for field in attestation_type.fields.all()}
    return sorted(dict.fromkeys(habilitation.fields), key=lambda name: order.get(name, 0))


@transaction.atomic
def _previewed_record(*, request: InteractiveRequest, citizen: Citizen, item: ConsentItem, outcome: str) -> None:
    event_record(
        type=EventType.CITIZEN_PREVIEWED,
        actor=citizen_actor(citizen),
        citizen_ref=citizen.ref,
        consumer=request.consumer.siret,
        provider=item.attestation_type.holder.siret,
        attestation_type=item.attestation_type.slug,
        fields=list(item.fields),
        purpose=request.purpose_code,
        detail={"outcome": outcome, "client_id": request.client.client_id, "flow": "interactive"},
    )
