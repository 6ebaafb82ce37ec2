"""Compiled statements answer exactly what the ORM would, with fresh values on every call.

The oracle is the ORM itself: the same queryset, built and run the ordinary way. (On SQLite the
same statements serve the README walk-through: tests/walkthrough.)"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.db.models import CharField, DateTimeField, IntegerField
from django.utils import timezone

from audit.models import ActorKind, AuditEvent, EventType
from audit.services import EVENT_INSERT, Actor, event_row
from consent.models import Citizen
from core.compiled import CompiledChain, CompiledInsert, CompiledQuery, CompiledUpdate

pytestmark = pytest.mark.django_db


# The pivot identity is encrypted (core.fields): it is selected and decrypted by its converters,
# but only plain columns are compared.
def _citizens(subject: str, created_after: dt.datetime) -> object:
    return (
        Citizen.objects.filter(subject=subject, created_at__gt=created_after)
        .order_by()
        .values("id", "subject", "date_naissance", "created_at", "prenoms")
    )


CITIZENS = CompiledQuery(_citizens, subject=CharField(), created_after=DateTimeField())
LONG_AGO = dt.datetime(1900, 1, 1, tzinfo=dt.UTC)


def _citizen(subject: str, created: str = "2026-05-17T10:00:00+00:00") -> Citizen:
    return Citizen.objects.create(
        subject=subject,
        nom_naissance="Martin",
        prenoms="Alice Marie",
        date_naissance=dt.date(1990, 5, 17),
        sexe="F",
        code_cog_lieu_naissance="69123",
        created_at=dt.datetime.fromisoformat(created),
    )


class TestCompiledQuery:
    def test_it_returns_what_the_orm_returns_for_each_call_s_values(self) -> None:
        _citizen("sub-1")
        _citizen("sub-2", "2020-01-01T00:00:00+00:00")
        created_after = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)

        for subject in ("sub-1", "sub-2", "nobody"):
            assert CITIZENS.rows(subject=subject, created_after=created_after) == list(
                _citizens(subject, created_after)
            )

    def test_it_converts_results_as_the_orm_does(self) -> None:
        citizen = _citizen("sub-3")

        row = CITIZENS.first(subject="sub-3", created_after=LONG_AGO)

        assert row is not None
        assert row["id"] == citizen.pk and isinstance(row["id"], uuid.UUID)
        # Decrypted by the field's converter.
        assert row["date_naissance"] == dt.date(1990, 5, 17)
        assert row["prenoms"] == "Alice Marie"
        assert row["created_at"] == citizen.created_at and row["created_at"].tzinfo is not None

    def test_a_missing_value_finds_nothing(self) -> None:
        _citizen("sub-4")

        assert CITIZENS.rows(subject=None, created_after=LONG_AGO) == []

    def test_it_refuses_parameters_it_does_not_know(self) -> None:
        with pytest.raises(TypeError):
            CITIZENS.rows(subject="sub-1")
        with pytest.raises(TypeError):
            CITIZENS.rows(subject="sub-1", created_after=LONG_AGO, other=1)

    def test_it_refuses_a_parameter_the_query_does_not_use(self) -> None:
        unused = CompiledQuery(
            lambda subject, other: Citizen.objects.filter(subject=subject).values("id"),
            subject=CharField(),
            other=IntegerField(),
        )
        with pytest.raises(TypeError, match="other"):
            unused.rows(subject="x", other=1)


class TestCompiledInsertAndUpdate:
    def test_an_insert_writes_what_create_would_and_returns_the_new_id(self) -> None:
        values = event_row(
            type=EventType.CONSENT_REQUESTED,
            actor=Actor(ActorKind.CONSUMER, "client-1"),
            consumer="21690266800013",
            fields=["quotient_familial"],
            detail={"reason": "x"},
        )

        event_id = EVENT_INSERT.run(**values)

        stored = AuditEvent.objects.get(pk=event_id)
        assert (stored.type, stored.actor, stored.fields, stored.detail) == (
            "consent.requested",
            "client-1",
            ["quotient_familial"],
            {"reason": "x"},
        )
        assert stored.occurred_at <= timezone.now()

    def test_an_insert_refuses_an_unknown_field(self) -> None:
        with pytest.raises(TypeError):
            EVENT_INSERT.run(nonsense=1)

    def test_an_update_changes_only_the_rows_its_values_select(self) -> None:
        citizen = _citizen("sub-5")
        rename = CompiledUpdate(
            lambda subject, name: Citizen.objects.filter(subject=subject),
            lambda subject, name: {"issuer": name},
            subject=CharField(),
            name=CharField(),
        )

        assert rename.run(subject="sub-5", name="https://idp.example") == 1
        assert rename.run(subject="nobody", name="https://other.example") == 0

        citizen.refresh_from_db()
        assert citizen.issuer == "https://idp.example"


class TestCompiledChain:
    @pytest.fixture
    def chain(self) -> CompiledChain:
        take = CompiledUpdate(
            lambda subject, expected: Citizen.objects.filter(subject=subject, issuer=expected),
            lambda subject, expected: {"issuer": "taken"},
            subject=CharField(),
            expected=CharField(),
        )
        return CompiledChain(take, EVENT_INSERT, CompiledInsert(Citizen))

    def _event(self) -> dict[str, object]:
        return event_row(type=EventType.CONSENT_EXPIRED, actor=Actor.system())

    def test_it_writes_everything_when_the_update_changes_a_row(self, chain: CompiledChain) -> None:
        _citizen("sub-6")
        other = {
            "id": uuid.uuid4(),
            "subject": "sub-7",
            "nom_naissance": "Petit",
            "prenoms": "Paul",
            "date_naissance": dt.date(2001, 2, 3),
            "sexe": "M",
            "code_cog_lieu_naissance": "75056",
        }

        assert chain.run({"subject": "sub-6", "expected": ""}, self._event(), other) is True

        assert Citizen.objects.get(subject="sub-6").issuer == "taken"
        assert Citizen.objects.get(subject="sub-7").date_naissance == dt.date(2001, 2, 3)
        assert AuditEvent.objects.filter(type=EventType.CONSENT_EXPIRED).count() == 1

    def test_it_writes_nothing_when_the_update_changes_no_row(self, chain: CompiledChain) -> None:
        _citizen("sub-8")
        other = {
            "id": uuid.uuid4(),
            "subject": "sub-9",
            "nom_naissance": "N",
            "prenoms": "P",
            "date_naissance": dt.date(2001, 2, 3),
            "sexe": "M",
            "code_cog_lieu_naissance": "75056",
        }

        assert chain.run({"subject": "sub-8", "expected": "someone-else"}, self._event(), other) is False

        assert Citizen.objects.get(subject="sub-8").issuer == ""
        assert not Citizen.objects.filter(subject="sub-9").exists()
        assert not AuditEvent.objects.exists()

    def test_it_is_one_statement_on_postgresql(self, chain: CompiledChain, django_assert_num_queries: object) -> None:
        if connection.vendor != "postgresql":
            pytest.skip("PostgreSQL only")
        _citizen("sub-10")
        other = {
            "id": uuid.uuid4(),
            "subject": "sub-11",
            "nom_naissance": "N",
            "prenoms": "P",
            "date_naissance": dt.date(2001, 2, 3),
            "sexe": "M",
            "code_cog_lieu_naissance": "75056",
        }

        with django_assert_num_queries(1):  # type: ignore[operator]
            assert chain.run({"subject": "sub-10", "expected": ""}, self._event(), other)
