"""The only doors to a consent. Each one is named for who is asking, returns only that actor's
consents (NotFound otherwise, never "forbidden": existence is not disclosed), and enforces expiry
on the way out, so no reader ever sees an active consent whose time is up."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from django.db import connection
from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from consent.models import Citizen, Consent, ConsentItem, TokenBinding
from consent.services.lifecycle import consent_expire_if_due, due_for_expiry, expiry_due
from core.errors import NotFound, ValidationError
from gateway.rows import RowReader, columns, fetch_one, related_set
from providers.models import AttestationField, Organisation

_NOT_FOUND = "No such consent."


def _with_items(queryset: QuerySet[Consent]) -> QuerySet[Consent]:
    items = ConsentItem.objects.select_related("attestation_type__holder", "habilitation").order_by("id")
    return queryset.select_related("consumer", "citizen").prefetch_related(Prefetch("items", queryset=items))


def _with_terms(queryset: QuerySet[Consent]) -> QuerySet[Consent]:
    """Also the catalogue's field labels, for pages that show the terms."""
    fields = AttestationField.objects.order_by("position", "name")
    return _with_items(queryset).prefetch_related(Prefetch("items__attestation_type__fields", queryset=fields))


def _uuid(value: uuid.UUID | str) -> uuid.UUID:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError:
        raise NotFound(_NOT_FOUND) from None


def _fresh(consent: Consent) -> Consent:
    if expiry_due(consent):
        expired = consent_expire_if_due(consent=consent)
        consent.status, consent.status_reason = expired.status, expired.status_reason
        consent.version, consent.updated_at = expired.version, expired.updated_at
    return consent


def _expire_due_in(queryset: QuerySet[Consent]) -> None:
    # One cheap query on the common path (nothing due); the rare due ones go through the service.
    for consent in queryset.filter(due_for_expiry(timezone.now())):
        consent_expire_if_due(consent=consent)


def consent_get_for_consumer(*, consumer: Organisation, consent_id: uuid.UUID | str) -> Consent:
    consent = _with_items(Consent.objects.filter(consumer=consumer, pk=_uuid(consent_id))).first()
    if consent is None:
        raise NotFound(_NOT_FOUND)
    return _fresh(consent)


def consents_for_consumer(*, consumer: Organisation, status: str | None = None) -> QuerySet[Consent]:
    if status is not None and status not in Consent.Status.values:
        raise ValidationError(
            "Unknown status.",
            errors={"status": [{"code": "invalid_choice", "message": "One of: " + ", ".join(Consent.Status.values)}]},
        )
    _expire_due_in(Consent.objects.filter(consumer=consumer))
    queryset = _with_items(Consent.objects.filter(consumer=consumer))
    return queryset.filter(status=status) if status else queryset


def consent_get_for_citizen(*, citizen: Citizen, consent_id: uuid.UUID | str) -> Consent:
    consent = _with_terms(Consent.objects.filter(citizen=citizen, pk=_uuid(consent_id))).first()
    if consent is None:
        raise NotFound(_NOT_FOUND)
    return _fresh(consent)


def consents_for_citizen(*, citizen: Citizen) -> QuerySet[Consent]:
    _expire_due_in(Consent.objects.filter(citizen=citizen))
    return _with_items(Consent.objects.filter(citizen=citizen)).order_by("-created_at")


def consent_get_pending(*, consent_id: uuid.UUID | str) -> Consent:
    """For the approval page: anyone holding the link may open a request (it names no citizen
    until decided). The caller shows the decision buttons only while it is pending."""
    consent = _with_terms(Consent.objects.filter(pk=_uuid(consent_id))).first()
    if consent is None:
        raise NotFound(_NOT_FOUND)
    return _fresh(consent)


@dataclass(frozen=True)
class ExchangeConsent:
    """What the exchange's checks read about a consent, in one query: the consent a token is bound
    to (interactive flow), the consent itself (citizen loaded) if it is this consumer's, and its
    item for the requested type, if it covers it."""

    bound_consent_id: uuid.UUID | None
    consent: Consent | None
    item: ConsentItem | None

    def consent_or_404(self) -> Consent:
        if self.consent is None:
            raise NotFound(_NOT_FOUND)
        return self.consent


def _exchange_consent_sql() -> str:
    quote = connection.ops.quote_name
    # Only model metadata is interpolated (table and column names); every value is a parameter.
    return (
        f"SELECT b.bound, {columns(Consent, 'c')}, {columns(Citizen, 'z')}, {columns(ConsentItem, 'i')} "  # noqa: S608
        f"FROM (SELECT (SELECT consent_id FROM {quote(TokenBinding._meta.db_table)} "
        "WHERE access_token_id = %(token)s LIMIT 1) AS bound) b "
        f"LEFT JOIN {quote(Consent._meta.db_table)} c ON c.id = COALESCE(b.bound, %(requested)s::uuid) "
        "AND c.consumer_id = %(consumer)s "
        # A token bound to one consent never reads another (the exchange refuses that request).
        "AND (b.bound IS NULL OR %(requested)s::uuid IS NULL OR b.bound = %(requested)s::uuid) "
        f"LEFT JOIN {quote(Citizen._meta.db_table)} z ON z.id = c.citizen_id "
        f"LEFT JOIN {quote(ConsentItem._meta.db_table)} i ON i.consent_id = c.id "
        "AND i.attestation_type_id = %(attestation_type)s"
    )


def consent_for_exchange(
    *,
    consumer: Organisation,
    consent_id: uuid.UUID | None,
    access_token_id: int | None,
    attestation_type_id: int,
) -> ExchangeConsent:
    """The exchange's hot path, read afresh on every request (a revocation is seen at once): the
    token's bound consent, and the consent to use (the bound one, else `consent_id`) if it is this
    consumer's, with expiry enforced on the way out as in every door here."""
    params = {
        "token": access_token_id,
        "requested": consent_id,
        "consumer": consumer.pk,
        "attestation_type": attestation_type_id,
    }
    row = fetch_one(_exchange_consent_sql(), params)
    reader = RowReader(row)
    bound: uuid.UUID | None = reader.skip(1)
    consent, citizen, item = reader.take(Consent), reader.take(Citizen), reader.take(ConsentItem)
    if consent is not None:
        related_set(consent, "citizen", citizen)
        related_set(consent, "consumer", consumer)
        consent = _fresh(consent)
    if item is not None and consent is not None:
        related_set(item, "consent", consent)
    return ExchangeConsent(bound_consent_id=bound, consent=consent, item=item)
