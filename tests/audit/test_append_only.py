"""The database refuses UPDATE, DELETE and TRUNCATE on the trail's tables, whoever asks."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import IntegrityError, connection, transaction

from audit.models import AuditEvent
from audit.sealer import log_seal

TABLES = ["audit_auditevent", "audit_logleaf", "audit_lognode", "audit_checkpoint"]


@pytest.fixture
def sealed_log(record: Callable[..., AuditEvent]) -> None:
    for i in range(3):
        record(citizen_ref=f"ref-{i}")
    assert log_seal() is not None


def _refused(sql: str) -> str:
    with pytest.raises(IntegrityError) as caught, transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql)
    return str(caught.value)


@pytest.mark.usefixtures("sealed_log")
class TestAppendOnly:
    @pytest.mark.parametrize("table", TABLES)
    def test_it_refuses_an_update(self, table: str) -> None:
        column = {"audit_auditevent": "actor = 'mallory'", "audit_checkpoint": "note = ''"}.get(table, "hash = hash")
        message = _refused(f"UPDATE {table} SET {column}")  # noqa: S608 - fixed test strings

        assert f"audit trail is append-only: UPDATE on {table} refused" in message
        assert not AuditEvent.objects.filter(actor="mallory").exists()

    @pytest.mark.parametrize("table", TABLES)
    def test_it_refuses_a_delete(self, table: str) -> None:
        message = _refused(f"DELETE FROM {table}")  # noqa: S608 - fixed test strings

        assert f"audit trail is append-only: DELETE on {table} refused" in message

    def test_it_refuses_changes_through_the_orm_too(self) -> None:
        event = AuditEvent.objects.first()
        assert event is not None
        with pytest.raises(IntegrityError), transaction.atomic():
            AuditEvent.objects.filter(pk=event.pk).update(purpose="forged")
        with pytest.raises(IntegrityError), transaction.atomic():
            event.delete()

        event.refresh_from_db()
        assert event.purpose == ""


@pytest.mark.django_db(transaction=True)
class TestTruncate:
    """Committed rows (no test transaction around them), as in production."""

    @pytest.mark.parametrize("table", TABLES)
    def test_it_refuses_a_truncate(self, table: str, sealed_log: None) -> None:
        # The suite's one escape hatch (settings.AUDIT_ALLOW_TEST_TRUNCATE, for Django's flush)
        # is switched off for this transaction, as it is always off in production.
        with pytest.raises(IntegrityError) as caught, transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL gateway.audit_maintenance = 'off'")
            cursor.execute(f"TRUNCATE {table} CASCADE")

        assert "audit trail is append-only: TRUNCATE on" in str(caught.value)
        assert AuditEvent.objects.count() == 3

    def test_it_lets_only_the_test_flush_through(self) -> None:
        from django.conf import settings

        assert settings.AUDIT_ALLOW_TEST_TRUNCATE is True
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_setting('gateway.audit_maintenance', true)")
            assert cursor.fetchone()[0] == "on"
