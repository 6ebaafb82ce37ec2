"""The interactive consent (OAuth authorization code flow): the consent screen at `/oauth/authorize/`.

Unlike the decoupled flow, nothing is stored while the citizen reads the screen: the request lives
in the authorization request's parameters until the citizen approves, and then the consent is
requested and approved in one transaction (`consent.requested` then `consent.approved`), so a
failure anywhere leaves no pending consent behind. A rejection stores nothing; the consumer hears
of it through the OAuth error response.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from django.db import transaction
from oauth2_provider.models import Application

from consent.models import Citizen, Consent, ConsentItem
from consent.services.lifecycle import consent_approve
from consent.services.preview import PreviewItem, item_preview
from consent.services.requests import (
    Errors,
    catalogue_order,
    consent_request_create,
    error_add,
    limits_check,
    slugs_check,
)
from consent.terms import Terms, terms_build
from core.errors import HabilitationMissing, InvalidTransition, LoaInsufficient, ValidationError
from providers.models import AttestationType, Habilitation, Organisation
from providers.rules import eidas_highest, eidas_satisfies
from providers.selectors import habilitation_in_force

DEFAULT_DURATION_DAYS = 30


@dataclass(frozen=True)
class InteractiveRequest:
    """What a consumer asks for on the consent screen, checked against its habilitations."""

    consumer: Organisation
    client: Application
    # (type, habilitation) in the order the scopes named them.
    selections: list[tuple[AttestationType, Habilitation]]
    purpose_code: str
    duration_days: int
    max_uses: int | None
    # The fields asked for, by type (RFC 9396 authorization details); a type absent here is asked
    # for with every field of its habilitation (a plain scope).
    requested_fields: dict[str, list[str]] = field(default_factory=dict)

    def fields_of(self, attestation_type: AttestationType, habilitation: Habilitation) -> list[str]:
        requested = self.requested_fields.get(attestation_type.slug)
        return list(requested) if requested else list(habilitation.fields)

    @property
    def slugs(self) -> list[str]:
        return [attestation_type.slug for attestation_type, _ in self.selections]

    @property
    def eidas_min(self) -> str:
        return eidas_highest([t.eidas_min for t, _ in self.selections])

    def terms(self) -> Terms:
        return terms_build(
            consumer=self.consumer,
            selections=[(t, self.fields_of(t, habilitation), habilitation) for t, habilitation in self.selections],
            purpose_code=self.purpose_code,
            purpose_text=self.selections[0][1].purpose_text,
            duration_days=self.duration_days,
            max_uses=self.max_uses,
        )


def interactive_request_build(
    *,
    consumer: Organisation,
    client: Application,
    attestation_types: Sequence[str],
    purpose_code: str = "",
    duration_days: int | None = None,
    max_uses: int | None = None,
    fields: Mapping[str, Sequence[str]] | None = None,
) -> InteractiveRequest:
    """Checks an authorization request's terms without writing anything.

    The purpose defaults to the habilitations' (they must all share it, as a consent has one
    purpose), the duration to DEFAULT_DURATION_DAYS when the request names none; a duration it
    names is held to the limits every consent request is held to (`limits_check`), zero included.
    Raises ValidationError for bad terms and HabilitationMissing for a type the consumer may not
    ask for (the OAuth scope ceiling normally refused it already). `fields` narrows a type to some
    of its habilitation's fields (never beyond them: ValidationError `fields`).
    """
    if duration_days is None:
        duration_days = DEFAULT_DURATION_DAYS
    slugs = list(attestation_types)
    errors: Errors = {}
    slugs_check(errors, slugs)
    limits_check(errors, duration_days=duration_days, max_uses=max_uses)
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
    for attestation_type, _ in selections:
        if attestation_type.subject_kind != AttestationType.SubjectKind.PERSON:
            # The interactive flow is a person's own login: a company's attestations are asked for
            # with a consent request naming the company (POST /api/v1/consent-requests).
            error_add(
                errors,
                "attestation_types",
                "subject_kind_mismatch",
                f"'{attestation_type.slug}' is about a company: ask for it with a consent request naming its SIRET.",
            )
    for attestation_type, habilitation in selections:
        if habilitation.purpose_code != purpose_code:
            error_add(
                errors,
                "purpose",
                "outside_habilitation",
                f"Your habilitation for {attestation_type.slug} is for the purpose '{habilitation.purpose_code}'.",
            )
    requested = {slug: list(dict.fromkeys(names)) for slug, names in (fields or {}).items() if names}
    for attestation_type, habilitation in selections:
        beyond = sorted(set(requested.get(attestation_type.slug, [])) - set(habilitation.fields))
        if beyond:
            error_add(
                errors,
                "fields",
                "outside_habilitation",
                f"Your habilitation for {attestation_type.slug} does not cover: {', '.join(beyond)}.",
            )
    if set(requested) - set(slugs):
        error_add(errors, "fields", "unknown_type", "Fields are asked for a type the request does not name.")
    if errors:
        raise ValidationError("The authorization request goes beyond your habilitations.", errors=errors)
    return InteractiveRequest(
        consumer=consumer,
        client=client,
        selections=selections,
        purpose_code=purpose_code,
        duration_days=duration_days,
        max_uses=max_uses,
        requested_fields=requested,
    )


@transaction.atomic
def interactive_consent_approve(
    *, request: InteractiveRequest, citizen: Citizen, eidas_level: str, authorization_request: str = ""
) -> Consent:
    """The citizen approved on the consent screen: the consent is requested by the client and
    approved by the citizen in one transaction, with both audit events, or not at all.

    `authorization_request` names the OAuth authorization request the screen answers (its
    parameters). The same screen submitted again by the same citizen (a double click, a resent
    form) returns the consent the first submission approved instead of creating a second one; the
    consent's idempotency key holds that, so two submissions racing each other also end in one.
    """
    consent = consent_request_create(
        consumer=request.consumer,
        client=request.client,
        attestation_types=request.slugs,
        # The fields the screen showed: those are what the citizen agreed to.
        fields={t.slug: request.fields_of(t, habilitation) for t, habilitation in request.selections},
        purpose_code=request.purpose_code,
        purpose_text="",
        duration_days=request.duration_days,
        max_uses=request.max_uses,
        idempotency_key=_screen_key(citizen, authorization_request) if authorization_request else "",
    )
    if consent.status == Consent.Status.PENDING:
        return consent_approve(consent=consent, citizen=citizen, eidas_level=eidas_level)
    if consent.status == Consent.Status.ACTIVE and consent.citizen_id == citizen.pk:
        return consent
    raise InvalidTransition(
        "This authorization request was already answered.",
        extra={"consent_status": consent.status, "consent_id": str(consent.pk)},
    )


def _screen_key(citizen: Citizen, authorization_request: str) -> str:
    # Scoped to the citizen: nobody else's screen ever names this consent. Hashed: the key is
    # stored with the consent, the authorization request's parameters need not be.
    digest = hashlib.sha256(f"{citizen.pk}\n{authorization_request}".encode()).hexdigest()
    return f"interactive:{digest}"


def interactive_preview(*, request: InteractiveRequest, citizen: Citizen, eidas_level: str) -> list[PreviewItem]:
    """The citizen's own data, fetched live for their eyes only, before any consent exists.

    `consent_preview` needs a stored pending consent, which this flow does not have until approval;
    this is the same fetch over the request's terms. Each `citizen.previewed` event has no consent
    id and names the client instead. Not atomic as a whole: a provider call never holds a
    transaction open.
    """
    if not eidas_satisfies(eidas_level, request.eidas_min):
        raise LoaInsufficient(extra={"required_level": request.eidas_min, "current_level": eidas_level})
    # Unsaved items: they only carry the terms to the page, like a pending consent's items would.
    return [
        item_preview(
            item=ConsentItem(
                attestation_type=attestation_type,
                habilitation=habilitation,
                # Catalogue order, as a stored consent keeps them.
                fields=catalogue_order(attestation_type, request.fields_of(attestation_type, habilitation)),
            ),
            citizen=citizen,
            consumer=request.consumer,
            purpose_code=request.purpose_code,
            detail={"client_id": request.client.client_id, "flow": "interactive"},
        )
        for attestation_type, habilitation in request.selections
    ]
