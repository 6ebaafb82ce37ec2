"""Helpers for the trail's suites: recording events the way services do, and sealing."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.db import connection, transaction

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


@pytest.fixture
def archive_dir(tmp_path: Path, settings: object) -> Iterator[Path]:
    settings.AUDIT_ARCHIVE_DIR = str(tmp_path / "archives")  # type: ignore[attr-defined]
    settings.AUDIT_ARCHIVE_URL = ""  # type: ignore[attr-defined]
    yield tmp_path / "archives"
    # A detachment is committed DDL: drop the detached tables, as an operator would once the
    # archives are safe, so that the next test's sealer makes the partitions again.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_class c WHERE c.relname LIKE 'audit\\_logleaf\\_p%%' AND c.relkind = 'r' "
            "AND NOT c.relispartition"
        )
        for (name,) in cursor.fetchall():
            cursor.execute(f"DROP TABLE {name}")


def leaf_partitions() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'audit_logleaf'::regclass ORDER BY 1"
        )
        return [name for (name,) in cursor.fetchall()]
