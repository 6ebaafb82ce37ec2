"""The only doors to a consent. Each one is named for who is asking, returns only that actor's
consents (NotFound otherwise, never "forbidden": existence is not disclosed), and enforces expiry
on the way out, so no reader ever sees an active consent whose time is up."""

from __future__ import annotations

import uuid

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from consent.models import Citizen, Company, Consent, ConsentItem, WebhookDelivery
from consent.rules import citizen_addressee
from consent.services.lifecycle import consent_expire_if_due, due_for_expiry, expiry_due
from core.errors import NotFound, ValidationError
from providers.models import AttestationField, Organisation

_NOT_FOUND = "No such consent."


def _with_items(queryset: QuerySet[Consent]) -> QuerySet[Consent]:
    items = ConsentItem.objects.select_related("attestation_type__holder", "habilitation").order_by("id")
    return queryset.select_related(
        "consumer", "citizen", "renews", "company", "actor", "mandate", "register_check"
    ).prefetch_related(Prefetch("items", queryset=items))


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
    renewed = consent.renews
    if consent.status == Consent.Status.PENDING and renewed is not None and expiry_due(renewed):
        # The consent it would renew is past its end: expiring it cancels this renewal request.
        consent_expire_if_due(consent=renewed)
        renewed.refresh_from_db(fields=["status", "status_reason", "version", "updated_at"])
        consent.refresh_from_db(fields=["status", "status_reason", "version", "updated_at"])
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
    """Theirs, and the requests addressed to the person they are that nobody opened yet (waiting,
    or ended unopened: expired, or withdrawn by the administration), whichever identity provider
    they log in with."""
    addressee = citizen_addressee(citizen)
    mine = Q(citizen=citizen)
    if addressee:
        mine |= Q(citizen__isnull=True, addressee=addressee)
    _expire_due_in(Consent.objects.filter(mine))
    return _with_items(Consent.objects.filter(mine)).order_by("-created_at")


def consents_for_company(*, company: Company) -> QuerySet[Consent]:
    """The company's consents, for whoever the pages let act for it (consent.services.representation)."""
    _expire_due_in(Consent.objects.filter(company=company))
    return _with_items(Consent.objects.filter(company=company)).order_by("-created_at")


def consent_get_for_company(*, company: Company, consent_id: uuid.UUID | str) -> Consent:
    consent = _with_terms(Consent.objects.filter(company=company, pk=_uuid(consent_id))).first()
    if consent is None:
        raise NotFound(_NOT_FOUND)
    return _fresh(consent)


def consent_get_pending(*, consent_id: uuid.UUID | str) -> Consent:
    """For the approval page, before `consent_request_open` checks who may see it (the one it is
    bound or addressed to; anyone with the link while it is addressed to nobody and unopened)."""
    consent = _with_terms(Consent.objects.filter(pk=_uuid(consent_id))).first()
    if consent is None:
        raise NotFound(_NOT_FOUND)
    return _fresh(consent)


def webhook_deliveries_for_organisation(*, organisation: Organisation, limit: int = 50) -> list[WebhookDelivery]:
    """The organisation's latest deliveries, newest first (their payloads name no citizen)."""
    return list(WebhookDelivery.objects.filter(organisation=organisation).order_by("-created_at")[:limit])


def webhook_delivery_get_for_organisation(*, organisation: Organisation, delivery_id: uuid.UUID) -> WebhookDelivery:
    """One of the organisation's deliveries; NotFound for another's, whether it exists or not."""
    delivery = WebhookDelivery.objects.filter(pk=delivery_id, organisation=organisation).first()
    if delivery is None:
        raise NotFound("No such delivery.")
    return delivery
