"""Consent fixtures: requests made through the service, as the mairie's API client would."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from audit.models import AuditEvent
from consent.models import Citizen, Consent
from consent.services import consent_approve, consent_request_create
from providers.models import Organisation

QF = "cnaf.quotient-familial"
AVIS = "dgfip.avis-imposition"


@pytest.fixture
def make_request(mairie: Organisation) -> Callable[..., Consent]:
    def make(**overrides: Any) -> Consent:
        arguments: dict[str, Any] = {
            "consumer": mairie,
            "client": None,
            "attestation_types": [QF],
            "fields": None,
            "purpose_code": "tarification-sociale",
            "purpose_text": "Tarif de la cantine scolaire",
            "duration_days": 90,
            "max_uses": None,
            "return_url": "",
            "reference": "dossier-42",
            "idempotency_key": "",
        }
        arguments.update(overrides)
        return consent_request_create(**arguments)

    return make


@pytest.fixture
def pending(make_request: Callable[..., Consent]) -> Consent:
    return make_request()


@pytest.fixture
def active(pending: Consent, alice: Citizen) -> Consent:
    return consent_approve(consent=pending, citizen=alice, eidas_level="eidas2")


def events(consent: Consent, type: str | None = None) -> list[AuditEvent]:
    queryset = AuditEvent.objects.filter(consent_id=consent.pk).order_by("id")
    return list(queryset.filter(type=type) if type else queryset)


def snapshot(consent: Consent) -> dict[str, Any]:
    return Consent.objects.filter(pk=consent.pk).values().get()
