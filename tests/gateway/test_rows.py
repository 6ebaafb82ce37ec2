"""gateway.rows: the hot paths' hand-written SQL must store and build exactly what the ORM would."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from django.db import IntegrityError, connection, transaction
from django.db.models import Model
from django.db.models.signals import post_init
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from audit.models import ActorKind, AuditEvent, EventType
from gateway.models import Exchange
from gateway.rows import instance_from_db, row_insert
from providers.models import AttestationType, Organisation
from tests.gateway.conftest import QF


def stored(model: type[Model], pk: Any) -> dict[str, Any]:
    row = model._default_manager.filter(pk=pk).values().get()
    row.pop("id")
    return row


def event_values() -> dict[str, Any]:
    return {
        "type": EventType.EXCHANGE_SUCCEEDED,
        "actor_kind": ActorKind.CONSUMER,
        "actor": "client-1",
        "citizen_ref": "a" * 64,
        "consumer": "21690123100011",
        "fields": ["quotient_familial"],
        "consent_id": uuid.uuid4(),
        "correlation_id": "c" * 32,
        "detail": {"code": "x", "n": 2},
        "occurred_at": timezone.now(),
    }


@pytest.mark.django_db
class TestRowInsert:
    @pytest.mark.parametrize("logged", [False, True], ids=["prepared", "logged"])
    def test_it_stores_what_the_orm_stores(self, logged: bool) -> None:
        values = event_values()
        with transaction.atomic():
            by_orm = AuditEvent.objects.create(**values)
            if logged:
                with CaptureQueriesContext(connection) as queries:
                    by_rows = row_insert(AuditEvent, **values)
                assert [query["sql"].split()[0] for query in queries.captured_queries] == ["INSERT"]
            else:
                by_rows = row_insert(AuditEvent, **values)

        assert by_rows.pk == by_orm.pk + 1
        assert stored(AuditEvent, by_rows.pk) == stored(AuditEvent, by_orm.pk)
        assert not by_rows._state.adding and by_rows._state.db == "default"
        assert (by_rows.type, by_rows.fields, by_rows.detail) == (values["type"], values["fields"], values["detail"])

    def test_it_applies_the_fields_defaults(self, cnaf: Organisation, mairie: Organisation) -> None:
        attestation_type = AttestationType.objects.get(slug=QF)
        before = timezone.now()

        exchange = row_insert(
            Exchange,
            consumer_id=mairie.pk,
            provider_id=cnaf.pk,
            attestation_type_id=attestation_type.pk,
            client_id="client-1",
        )

        row = Exchange.objects.get()
        assert row.pk == exchange.pk and isinstance(exchange.pk, uuid.UUID)
        assert (row.status, row.fields, row.is_async, row.consent_id) == (Exchange.Status.PENDING, [], False, None)
        assert row.created_at == exchange.created_at and row.created_at >= before

    def test_it_refuses_an_unknown_field_or_a_database_generated_key(self) -> None:
        with pytest.raises(TypeError):
            row_insert(AuditEvent, **event_values(), colour="blue")
        with pytest.raises(TypeError), transaction.atomic():
            row_insert(AuditEvent, **event_values(), id=42)

        assert not AuditEvent.objects.exists()

    def test_a_database_error_is_djangos_and_rolls_back_with_the_transaction(
        self, cnaf: Organisation, mairie: Organisation
    ) -> None:
        attestation_type = AttestationType.objects.get(slug=QF)
        values = {
            "id": uuid.uuid4(),
            "consumer_id": mairie.pk,
            "provider_id": cnaf.pk,
            "attestation_type_id": attestation_type.pk,
            "client_id": "client-1",
        }
        row_insert(Exchange, **values)

        with pytest.raises(IntegrityError), transaction.atomic():
            row_insert(Exchange, **{**values, "client_id": "client-2"})

        assert list(Exchange.objects.values_list("client_id", flat=True)) == ["client-1"]


@pytest.mark.django_db
class TestInstanceFromDb:
    def test_it_builds_what_from_db_builds(self, mairie: Organisation) -> None:
        names = [field.attname for field in Organisation._meta.concrete_fields]
        values = list(Organisation.objects.filter(pk=mairie.pk).values_list(*names).get())

        built = instance_from_db(Organisation, values)
        expected = Organisation.from_db("default", names, values)

        assert {k: v for k, v in vars(built).items() if k != "_state"} == {
            k: v for k, v in vars(expected).items() if k != "_state"
        }
        assert (built._state.adding, built._state.db) == (False, "default")
        assert built == expected and built.siret == mairie.siret

    def test_it_runs_the_models_post_init_receivers_when_there_are_some(self, mairie: Organisation) -> None:
        names = [field.attname for field in Organisation._meta.concrete_fields]
        values = list(Organisation.objects.filter(pk=mairie.pk).values_list(*names).get())
        seen: list[Any] = []

        def receiver(sender: Any, instance: Any, **kwargs: Any) -> None:
            seen.append(instance)

        post_init.connect(receiver, sender=Organisation)
        try:
            built = instance_from_db(Organisation, values)
        finally:
            post_init.disconnect(receiver, sender=Organisation)

        assert seen == [built]
