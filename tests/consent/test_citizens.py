"""Citizens: identified by (issuer, subject), their pivot identity encrypted and kept only while a
session or a live consent needs it; the reference that stands for them in the trail never moves."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import uuid
from collections.abc import Callable

import pytest
from django.conf import settings
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from audit.models import ActorKind, AuditEvent, EventType
from consent.models import Citizen, Consent
from consent.services import consent_approve, consent_revoke
from consent.services.citizens import (
    citizen_identify,
    citizen_identity_erase,
    citizens_identity_erase_due,
    identity_from_claims,
)
from consent.services.trail import citizen_actor
from consent.tasks import citizens_identity_erase
from core.errors import AuthenticationRequired
from core.oidc import LoginFailed
from providers.adapters.base import Subject

ALICE = Subject("Martin", ("Alice", "Marie"), dt.date(1990, 5, 17), "F", "69123")
ISSUER = "https://fc.example/api/v2"


def hmac_of(text: str) -> str:
    return hmac.new(settings.AUDIT_HMAC_KEY.encode(), text.encode(), hashlib.sha256).hexdigest()


class TestReference:
    @pytest.mark.django_db
    def test_a_citizen_without_issuer_keeps_the_reference_of_their_subject(self) -> None:
        citizen = citizen_identify(issuer="", subject="demo-0", identity=ALICE)

        assert citizen.ref == hmac_of("demo-0")

    @pytest.mark.django_db
    def test_the_same_subject_at_two_issuers_is_two_citizens(self) -> None:
        first = citizen_identify(issuer=ISSUER, subject="abc", identity=ALICE)
        second = citizen_identify(issuer="https://other.example", subject="abc", identity=ALICE)
        again = citizen_identify(issuer=ISSUER, subject="abc", identity=ALICE)

        assert first.pk == again.pk != second.pk
        assert len({first.ref, second.ref, hmac_of("abc")}) == 3


@pytest.mark.django_db(transaction=True)
class TestMigration:
    def test_existing_citizens_are_encrypted_and_keep_their_reference(self) -> None:
        executor = MigrationExecutor(connection)
        executor.migrate([("consent", "0006_held_result")])
        citizen_id = uuid.uuid4()
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO consent_citizen (id, subject, nom_naissance, prenoms, date_naissance, sexe, "
                "code_cog_lieu_naissance, created_at) VALUES (%s, 'legacy-sub', 'Durand', 'Paul Louis', "
                "'1970-03-02', 'M', '75056', now())",
                [citizen_id],
            )
        executor = MigrationExecutor(connection)
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())

        citizen = Citizen.objects.get(pk=citizen_id)
        assert (citizen.issuer, citizen.nom_naissance, citizen.prenoms, citizen.date_naissance) == (
            "",
            "Durand",
            "Paul Louis",
            dt.date(1970, 3, 2),
        )
        assert citizen.ref == hmac_of("legacy-sub")
        with connection.cursor() as cursor:
            cursor.execute("SELECT nom_naissance FROM consent_citizen WHERE id = %s", [citizen_id])
            assert b"Durand" not in bytes(cursor.fetchone()[0])


class TestClaims:
    CLAIMS = {
        "sub": "x",
        "given_name": "Alice Marie",
        "family_name": "Martin",
        "birthdate": "1990-05-17",
        "gender": "female",
        "birthplace": "69123",
        "birthcountry": "99100",
        "email": "alice@example.fr",
    }

    def test_it_reads_franceconnect_s_pivot_identity(self) -> None:
        assert identity_from_claims(self.CLAIMS) == (ALICE, "alice@example.fr")

    def test_born_abroad_the_country_stands_for_the_place(self) -> None:
        identity, _ = identity_from_claims({**self.CLAIMS, "birthplace": "", "birthcountry": "99350"})

        assert identity.code_cog_lieu_naissance == "99350"

    @pytest.mark.parametrize(
        "change",
        [
            {"family_name": ""},
            {"given_name": None},
            {"birthdate": "1990-05-00"},
            {"gender": "unknown"},
            {"birthplace": "Lyon"},
            {"birthcountry": "France"},
        ],
    )
    def test_an_incomplete_identity_is_refused(self, change: dict[str, object]) -> None:
        with pytest.raises(LoginFailed) as failure:
            identity_from_claims({**self.CLAIMS, **change})

        assert failure.value.reason == "identity_incomplete"


@pytest.mark.django_db
class TestErasure:
    @pytest.fixture
    def idle(self) -> Citizen:
        citizen = citizen_identify(issuer=ISSUER, subject="idle", identity=ALICE, email="a@example.fr")
        Citizen.objects.filter(pk=citizen.pk).update(session_until=timezone.now() - dt.timedelta(seconds=1))
        return citizen

    def test_an_identity_nothing_needs_is_erased_and_the_erasure_recorded(self, idle: Citizen) -> None:
        assert citizens_identity_erase_due() == 1

        idle.refresh_from_db()
        assert (idle.nom_naissance, idle.prenoms, idle.date_naissance, idle.sexe, idle.email) == (None,) * 5
        assert idle.identity_erased_at is not None
        (event,) = AuditEvent.objects.filter(type=EventType.CITIZEN_IDENTITY_ERASED)
        assert (event.citizen_ref, event.actor_kind, event.detail) == (
            idle.ref,
            ActorKind.SYSTEM,
            {"reason": "no_session_no_consent"},
        )
        assert citizens_identity_erase_due() == 0
        assert AuditEvent.objects.filter(type=EventType.CITIZEN_IDENTITY_ERASED).count() == 1

    def test_a_live_session_keeps_the_identity(self) -> None:
        citizen = citizen_identify(issuer=ISSUER, subject="active", identity=ALICE)

        assert citizens_identity_erase_due() == 0
        citizen.refresh_from_db()
        assert citizen.nom_naissance == "Martin"

    @pytest.mark.parametrize("status", [Consent.Status.ACTIVE, Consent.Status.PAUSED])
    def test_a_live_consent_keeps_the_identity(self, idle: Citizen, pending: Consent, status: str) -> None:
        consent_approve(consent=pending, citizen=idle, eidas_level="eidas2")
        Consent.objects.filter(pk=pending.pk).update(status=status)
        Citizen.objects.filter(pk=idle.pk).update(session_until=timezone.now() - dt.timedelta(seconds=1))

        assert citizens_identity_erase_due() == 0
        assert not AuditEvent.objects.filter(type=EventType.CITIZEN_IDENTITY_ERASED).exists()

    def test_once_the_consent_ends_the_identity_goes(self, idle: Citizen, pending: Consent) -> None:
        consent = consent_approve(consent=pending, citizen=idle, eidas_level="eidas2")
        consent_revoke(consent=consent, actor=citizen_actor(idle), reason="")
        Citizen.objects.filter(pk=idle.pk).update(session_until=timezone.now() - dt.timedelta(seconds=1))

        assert citizens_identity_erase_due() == 1

    def test_an_erased_citizen_cannot_approve_until_they_log_in_again(self, idle: Citizen, pending: Consent) -> None:
        assert citizen_identity_erase(citizen_id=idle.pk)

        with pytest.raises(AuthenticationRequired):
            consent_approve(consent=pending, citizen=idle, eidas_level="eidas2")
        assert Consent.objects.get(pk=pending.pk).status == Consent.Status.PENDING

        again = citizen_identify(issuer=ISSUER, subject="idle", identity=ALICE)
        assert again.pk == idle.pk and again.identity_erased_at is None
        assert consent_approve(consent=pending, citizen=again, eidas_level="eidas2").status == Consent.Status.ACTIVE


@pytest.fixture
def pending(make_request: Callable[..., Consent]) -> Consent:
    return make_request()


@pytest.mark.django_db
def test_the_beat_task_erases_what_is_due() -> None:
    citizen = citizen_identify(issuer=ISSUER, subject="beat", identity=ALICE)
    Citizen.objects.filter(pk=citizen.pk).update(session_until=timezone.now() - dt.timedelta(seconds=1))

    # The task's own code, in this process (the shared real-worker fixture lives in tests/gateway).
    assert citizens_identity_erase.apply().get() == 1
    assert Citizen.objects.get(pk=citizen.pk).identity_erased_at is not None
    assert "consent.tasks.citizens_identity_erase" in {
        entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()
    }
