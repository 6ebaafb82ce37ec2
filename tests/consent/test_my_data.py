"""My data: one archive of everything held about me, a receipt to print, a proof checked step by
step that says "verified" only when it is."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable

import pytest
from django.db import transaction
from django.test import Client

from audit.models import ActorKind, AuditEvent, EventType
from audit.proofcheck import proof_check
from audit.sealer import log_seal, log_verifier_key
from audit.selectors import proof_bundle
from audit.services import Actor, event_record
from audit.tlog.export import verify_bundle
from consent.models import Citizen, Consent
from consent.services import consent_approve
from providers.models import Organisation
from tests.consent.conftest import QF
from tests.consent.test_history import logged_in

pytestmark = pytest.mark.django_db


def test_my_data_shows_my_identity_with_my_birthplace_by_name(alice: Citizen) -> None:
    alice.code_cog_lieu_naissance = "99134"
    alice.save(update_fields=["code_cog_lieu_naissance"])
    page = logged_in(alice).get("/mes-consentements/mes-donnees/").content.decode()
    assert "Lieu de naissance" in page and "Espagne" in page and "99134" not in page
    assert str(alice.nom_naissance) in page


@pytest.fixture
def mine(alice: Citizen, make_request: Callable[..., Consent]) -> Consent:
    return consent_approve(consent=make_request(), citizen=alice, eidas_level="eidas2")


@pytest.fixture
def sealed_access(alice: Citizen, mine: Consent, mairie: Organisation, cnaf: Organisation) -> AuditEvent:
    """An exchange under `mine`, as the exchange service records it, then sealed into the log."""
    with transaction.atomic():
        event_id = event_record(
            type=EventType.EXCHANGE_SUCCEEDED,
            actor=Actor(ActorKind.CONSUMER, mairie.siret),
            citizen_ref=alice.ref,
            consumer=mairie.siret,
            provider=cnaf.siret,
            attestation_type=QF,
            fields=["quotient_familial"],
            purpose=mine.purpose_code,
            consent_id=mine.pk,
        )
    assert log_seal() is not None
    return AuditEvent.objects.get(pk=event_id)


class TestArchive:
    def test_it_holds_everything_about_me_and_nothing_about_others(
        self,
        alice: Citizen,
        bob: Citizen,
        mine: Consent,
        sealed_access: AuditEvent,
        make_request: Callable[..., Consent],
    ) -> None:
        theirs = consent_approve(consent=make_request(), citizen=bob, eidas_level="eidas2")
        response = logged_in(alice).get("/mes-consentements/mes-donnees.zip")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(response.content))
        names = set(archive.namelist())
        assert {"LISEZ-MOI.txt", "identite.json", "consentements.json", "historique.json", "signalements.json"} <= names
        identity = json.loads(archive.read("identite.json"))
        assert (identity["nom_naissance"], identity["reference_dans_le_journal"]) == (alice.nom_naissance, alice.ref)
        receipts = json.loads(archive.read("consentements.json"))
        assert [receipt["record_id"] for receipt in receipts] == [str(mine.pk)]
        assert archive.read(f"consentements/{mine.pk}.jws").decode() == mine.artefact
        assert f"consentements/{theirs.pk}.jws" not in names
        history = json.loads(archive.read("historique.json"))
        assert sealed_access.pk in [event["id"] for event in history]
        assert all(
            event["id"] in set(AuditEvent.objects.filter(citizen_ref=alice.ref).values_list("pk", flat=True))
            for event in history
        )
        # The proof in the archive verifies offline with the published key.
        bundle = json.loads(archive.read(f"preuves/{sealed_access.pk}.json"))
        verify_bundle(bundle, archive.read("cle-publique-du-journal.txt").decode().strip())

    def test_it_needs_a_login(self, client: Client) -> None:
        assert client.get("/mes-consentements/mes-donnees.zip").status_code == 302


class TestReceiptPage:
    def test_it_reads_as_words(self, alice: Citizen, mine: Consent) -> None:
        page = logged_in(alice).get(f"/mes-consentements/{mine.pk}/recu/").content.decode()
        assert "Mairie de Villeurbanne" in page and "Tarification sociale des services publics locaux" in page
        assert "Quotient familial" in page and "Donné le" in page
        main = page[page.index("<main") :]
        assert "{" not in main and "tarification-sociale" not in main

    def test_someone_else_gets_404(self, bob: Citizen, mine: Consent) -> None:
        assert logged_in(bob).get(f"/mes-consentements/{mine.pk}/recu/").status_code == 404


class TestProofCheck:
    def test_a_sound_proof_is_verified_step_by_step(self, alice: Citizen, sealed_access: AuditEvent) -> None:
        page = logged_in(alice).get(f"/mes-consentements/historique/{sealed_access.pk}/verification/")
        assert page.status_code == 200
        text = page.content.decode()
        # The gateway's own check, which stands when the browser runs no script.
        server = text[text.index('id="server-check"') :]
        assert "fr-alert--success" in server and "Vérifié" in server
        assert server.count("fr-badge--success") == 4 and "fr-badge--error" not in server
        # The browser's check, with its steps to fill in and where to fetch the proof and the key.
        assert 'src="/static/consent/proof-check.js"' in text
        assert f'data-proof-url="/mes-consentements/historique/{sealed_access.pk}/preuve.json"' in text
        assert 'data-key-url="/api/v1/audit/public-key"' in text

    def test_it_says_verified_only_when_every_step_holds(self, alice: Citizen, sealed_access: AuditEvent) -> None:
        bundle = proof_bundle(event_id=sealed_access.pk, citizen_ref=alice.ref)
        key = log_verifier_key()
        assert proof_check(bundle, key).verified

        tampered = {**bundle, "event": {**bundle["event"], "purpose": "autre-chose"}}
        check = proof_check(tampered, key)
        assert not check.verified and [step.ok for step in check.steps] == [True, True, True, False]

        other_key = key.rsplit("+", 1)[0] + "+" + "A" * 43 + "="
        check = proof_check(bundle, other_key)
        assert not check.verified and check.steps[-1].code == "signature" and not check.steps[-1].ok

        check = proof_check({**bundle, "tree_size": bundle["tree_size"] + 1}, key)
        assert not check.verified and check.steps[-1].code == "size"

    def test_someone_else_s_event_is_not_found(self, bob: Citizen, sealed_access: AuditEvent) -> None:
        assert logged_in(bob).get(f"/mes-consentements/historique/{sealed_access.pk}/verification/").status_code == 404
