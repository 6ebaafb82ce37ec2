"""Helpers for the trail's suites: recording events the way services do, and sealing."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import transaction

from audit.models import ActorKind, AuditEvent, EventType
from audit.services import Actor, event_record

MAIRIE_SIRET = "21690123100011"
CNAF_SIRET = "18003502400011"


@pytest.fixture
def record(db: None) -> Callable[..., AuditEvent]:
    """Records one event in its own transaction, as a service would."""

    def make(type: EventType = EventType.EXCHANGE_SUCCEEDED, **kwargs: object) -> AuditEvent:
        kwargs.setdefault("consumer", MAIRIE_SIRET)
        kwargs.setdefault("provider", CNAF_SIRET)
        kwargs.setdefault("attestation_type", "cnaf.quotient-familial")
        with transaction.atomic():
            event_id = event_record(type=type, actor=Actor(ActorKind.CONSUMER, MAIRIE_SIRET), **kwargs)
        return AuditEvent.objects.get(pk=event_id)

    return make
