"""The exchange's one read: everything `authorise` decides on, as an immutable grant.

One query on the path every successful exchange takes: the consent item for the requested type
(of the consent the token is bound to, else the consent named in the request), joined with its
consent, its subject (citizen or company: two outer joins on keys, one of them null), attestation
type, holder and the habilitation it was granted under, the token's bound consent and, for an
adapter that checks the provider's answer (HTTP), the type's fields' schemas. Nothing is cached: a
revocation, a pause or a withdrawn habilitation a moment ago is read now. When that finds nothing,
a second query (denials only) gathers what tells the denials apart: does the type exist, does the
consumer hold a habilitation for it, is the consent this consumer's at all.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db.models import (
    Avg,
    BigIntegerField,
    Case,
    CharField,
    Count,
    JSONField,
    Max,
    Q,
    QuerySet,
    Subquery,
    UUIDField,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from audit.refs import citizen_ref, company_ref
from consent.models import Consent, ConsentItem, TokenBinding
from core.authentication import Caller
from core.compiled import CompiledQuery
from core.errors import NotFound
from gateway.models import Exchange
from providers.adapters import KINDS_CHECKING_FIELD_SCHEMAS
from providers.adapters.base import CompanySubject, Subject, Target
from providers.models import SLUG_RE, ApiClient, AttestationType, Habilitation, Organisation
from providers.selectors import field_schemas_from, field_schemas_subquery


@dataclass(frozen=True)
class TypeTerms:
    id: int
    slug: str
    active: bool
    eidas_min: str
    holder_id: int
    holder_siret: str
    target: Target


@dataclass(frozen=True)
class HabilitationTerms:
    id: uuid.UUID
    status: str
    valid_until: dt.date | None
    fields: tuple[str, ...]


@dataclass(frozen=True)
class SubjectTerms:
    """The consent's subject as the trail names it (keyed reference) and as its provider finds it
    (a citizen's pivot identity, or a company's SIREN and SIRET)."""

    ref: str
    subject: Subject | CompanySubject


@dataclass(frozen=True)
class ConsentTerms:
    id: uuid.UUID
    status: str
    valid_from: dt.datetime | None
    valid_until: dt.datetime | None
    max_uses: int | None
    uses: int
    version: int
    eidas_level: str
    purpose_code: str
    subject: SubjectTerms | None


@dataclass(frozen=True)
class Grant:
    """What is known, right now, about one consumer's request for one type under one consent.

    `consent` is the consumer's own consent (bound or named), None when there is none;
    `item_fields` the fields it grants for this type, None when it does not cover the type;
    `habilitations` the one the consent item was granted under, or (when there is no item) the
    consumer's approved habilitations for the type."""

    slug: str
    requested_consent_id: uuid.UUID | None
    bound_consent_id: uuid.UUID | None
    type: TypeTerms | None
    habilitations: tuple[HabilitationTerms, ...]
    consent: ConsentTerms | None
    item_fields: tuple[str, ...] | None


_TYPE = ("id", "slug", "active", "eidas_min", "holder_id", "holder__siret", "holder__code", "adapter_kind")
_ADAPTER = ("adapter_base_url", "adapter_timeout_ms", "adapter_token_env")
_HABILITATION = ("id", "status", "valid_until", "fields")
_CONSENT = ("id", "status", "valid_from", "valid_until", "max_uses", "uses", "version", "eidas_level", "purpose_code")
_CITIZEN = ("issuer", "subject", "nom_naissance", "prenoms", "date_naissance", "sexe", "code_cog_lieu_naissance")
_COMPANY = ("siren", "siret")


def _type_terms(row: Mapping[str, Any], prefix: str = "") -> TypeTerms:
    def get(name: str) -> Any:
        return row[prefix + name]

    return TypeTerms(
        id=int(get("id")),
        slug=str(get("slug")),
        active=bool(get("active")),
        eidas_min=str(get("eidas_min")),
        holder_id=int(get("holder_id")),
        holder_siret=str(get("holder__siret")),
        target=Target(
            type_id=int(get("id")),
            slug=str(get("slug")),
            holder_code=str(get("holder__code")),
            kind=str(get("adapter_kind")),
            base_url=str(get("adapter_base_url")),
            timeout_ms=int(get("adapter_timeout_ms")),
            token_env=str(get("adapter_token_env")),
            # Annotated by both readers of a type, unprefixed.
            field_schemas=field_schemas_from(row["field_schemas"]),
        ),
    )


def _habilitation_terms(row: Mapping[str, Any], prefix: str = "") -> HabilitationTerms:
    return HabilitationTerms(
        id=row[prefix + "id"],
        status=str(row[prefix + "status"]),
        valid_until=row[prefix + "valid_until"],
        fields=tuple(row[prefix + "fields"]),
    )


def _consent_terms(row: Mapping[str, Any], prefix: str = "") -> ConsentTerms:
    citizen = None
    # The pivot identity is decrypted by its field's converter; an erased one serves no exchange.
    if row[prefix + "citizen__subject"] is not None and row[prefix + "citizen__nom_naissance"] is not None:
        subject = str(row[prefix + "citizen__subject"])
        citizen = SubjectTerms(
            ref=citizen_ref(subject, str(row[prefix + "citizen__issuer"])),
            subject=Subject(
                nom_naissance=str(row[prefix + "citizen__nom_naissance"]),
                prenoms=tuple(str(row[prefix + "citizen__prenoms"]).split()),
                date_naissance=row[prefix + "citizen__date_naissance"],
                sexe=str(row[prefix + "citizen__sexe"]),
                code_cog_lieu_naissance=str(row[prefix + "citizen__code_cog_lieu_naissance"]),
            ),
        )
    return ConsentTerms(
        id=row[prefix + "id"],
        status=str(row[prefix + "status"]),
        valid_from=row[prefix + "valid_from"],
        valid_until=row[prefix + "valid_until"],
        max_uses=row[prefix + "max_uses"],
        uses=int(row[prefix + "uses"]),
        version=int(row[prefix + "version"]),
        eidas_level=str(row[prefix + "eidas_level"]),
        purpose_code=str(row[prefix + "purpose_code"]),
        subject=citizen or _company_terms(row, prefix),
    )


def _company_terms(row: Mapping[str, Any], prefix: str) -> SubjectTerms | None:
    siren = row[prefix + "company__siren"]
    if siren is None:
        return None
    return SubjectTerms(
        ref=company_ref(str(siren)),
        subject=CompanySubject(siren=str(siren), siret=str(row[prefix + "company__siret"])),
    )


def _field_schemas(*, kind: str, type_id: str) -> Case:
    """The type's fields' schemas, for the adapter kinds that check them (the HTTP adapter): read
    by the grant's own query, never cached, so a field edited in the admin counts from the next
    exchange on."""
    return Case(
        When(**{f"{kind}__in": KINDS_CHECKING_FIELD_SCHEMAS}, then=field_schemas_subquery(type_id)),
        output_field=JSONField(),
    )


def _bound_consent(access_token_id: int | None) -> Subquery:
    return Subquery(TokenBinding.objects.filter(access_token_id=access_token_id).values("consent_id")[:1])


def _grant_query(*, access_token_id: int, consent_id: uuid.UUID, organisation_id: int, slug: str) -> QuerySet[Any, Any]:
    query: QuerySet[Any, Any] = (
        ConsentItem.objects.filter(
            consent_id=Coalesce(_bound_consent(access_token_id), Value(consent_id, output_field=UUIDField())),
            consent__consumer_id=organisation_id,
            attestation_type__slug=slug,
        )
        .annotate(
            bound=_bound_consent(access_token_id),
            field_schemas=_field_schemas(kind="attestation_type__adapter_kind", type_id="attestation_type_id"),
        )
        .order_by()
        .values(
            "bound",
            "fields",
            *(f"consent__{name}" for name in _CONSENT),
            *(f"consent__citizen__{name}" for name in _CITIZEN),
            *(f"consent__company__{name}" for name in _COMPANY),
            *(f"attestation_type__{name}" for name in (*_TYPE, *_ADAPTER)),
            "field_schemas",
            *(f"habilitation__{name}" for name in _HABILITATION),
        )
    )
    return query


# The hot path's read, compiled once (core.compiled): building this queryset on every request
# cost thirty times what running it does.
_GRANT = CompiledQuery(
    _grant_query,
    access_token_id=BigIntegerField(),
    consent_id=UUIDField(),
    organisation_id=BigIntegerField(),
    slug=CharField(),
)


def exchange_grant_get(*, caller: Caller, slug: str, consent_id: uuid.UUID | None) -> Grant:
    """The grant for `caller`'s request of `slug` under `consent_id` (or its token's bound consent)."""
    if not SLUG_RE.match(slug):
        # A malformed slug (a NUL byte, say) is simply unknown, never a database error.
        return Grant(slug, consent_id, None, None, (), None, None)
    row = _GRANT.first(
        access_token_id=caller.access_token_id,
        consent_id=consent_id,
        organisation_id=caller.organisation_id,
        slug=slug,
    )
    if row is not None:
        return Grant(
            slug=slug,
            requested_consent_id=consent_id,
            bound_consent_id=row["bound"],
            type=_type_terms(row, "attestation_type__"),
            habilitations=(_habilitation_terms(row, "habilitation__"),),
            consent=_consent_terms(row, "consent__"),
            item_fields=tuple(row["fields"]),
        )
    return _grant_denied(caller=caller, slug=slug, consent_id=consent_id)


def _grant_denied(*, caller: Caller, slug: str, consent_id: uuid.UUID | None) -> Grant:
    """What tells the denials apart when the consent item was not found (cold path)."""
    type_row = (
        AttestationType.objects.filter(slug=slug)
        .annotate(
            bound=_bound_consent(caller.access_token_id),
            field_schemas=_field_schemas(kind="adapter_kind", type_id="id"),
        )
        .values("bound", *_TYPE, *_ADAPTER, "field_schemas")
        .first()
    )
    if type_row is None:
        bound = TokenBinding.objects.filter(access_token_id=caller.access_token_id).values_list("consent_id", flat=True)
        return Grant(slug, consent_id, bound.first(), None, (), None, None)
    attestation_type = _type_terms(type_row)
    habilitations = tuple(
        _habilitation_terms(row)
        for row in Habilitation.objects.filter(
            consumer_id=caller.organisation_id,
            attestation_type_id=attestation_type.id,
            status=Habilitation.Status.APPROVED,
        ).values(*_HABILITATION)
    )
    bound_consent_id = type_row["bound"]
    named = bound_consent_id or consent_id
    consent_row = (
        Consent.objects.filter(pk=named, consumer_id=caller.organisation_id)
        .values(*_CONSENT, *(f"citizen__{name}" for name in _CITIZEN), *(f"company__{name}" for name in _COMPANY))
        .first()
        if named is not None
        else None
    )
    return Grant(
        slug=slug,
        requested_consent_id=consent_id,
        bound_consent_id=bound_consent_id,
        type=attestation_type,
        habilitations=habilitations,
        consent=_consent_terms(consent_row) if consent_row is not None else None,
        item_fields=None,
    )


def api_clients_for_organisation(*, organisation: Organisation) -> list[ApiClient]:
    """The organisation's OAuth clients, newest first, with their applications (one query)."""
    return list(
        ApiClient.objects.filter(organisation=organisation).select_related("application").order_by("-created_at")
    )


def api_client_get_for_organisation(*, organisation: Organisation, api_client_id: int) -> ApiClient:
    """One of the organisation's clients; NotFound for another's, whether it exists or not."""
    api_client = (
        ApiClient.objects.filter(pk=api_client_id, organisation=organisation)
        .select_related("application", "organisation")
        .first()
    )
    if api_client is None:
        raise NotFound("No such client.")
    return api_client


EXCHANGES_SHOWN = 100


def exchanges_for_consumer(
    *,
    organisation: Organisation,
    attestation_type: str = "",
    status: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> list[Exchange]:
    """The consumer's latest exchanges, filtered; what it may see of them (no citizen, no consent
    holder's data: the type, outcome, denial reason, timings)."""
    exchanges = Exchange.objects.filter(consumer=organisation).select_related("attestation_type", "provider")
    if attestation_type:
        exchanges = exchanges.filter(attestation_type__slug=attestation_type)
    if status:
        exchanges = exchanges.filter(status=status)
    if since:
        exchanges = exchanges.filter(created_at__date__gte=since)
    if until:
        exchanges = exchanges.filter(created_at__date__lte=until)
    return list(exchanges.order_by("-created_at")[:EXCHANGES_SHOWN])


def provider_statistics(*, organisation: Organisation, since: dt.datetime) -> list[dict[str, Any]]:
    """Per attestation type the organisation holds and per consumer, since `since`: exchanges,
    outcomes and the adapter's latency (one query)."""
    rows = (
        Exchange.objects.filter(provider=organisation, created_at__gte=since)
        .values("attestation_type__slug", "consumer__name")
        .annotate(
            total=Count("id"),
            succeeded=Count("id", filter=Q(status=Exchange.Status.SUCCEEDED)),
            denied=Count("id", filter=Q(status=Exchange.Status.DENIED)),
            failed=Count("id", filter=Q(status=Exchange.Status.FAILED)),
            latency_avg=Avg("provider_duration_ms"),
            latency_max=Max("provider_duration_ms"),
        )
        .order_by("attestation_type__slug", "consumer__name")
    )
    return [dict(row) for row in rows]
