"""The citizen's history page: only their own events, in plain words, with proofs that verify."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from zoneinfo import ZoneInfo

import pytest
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import ActorKind, AuditEvent, EventType
from audit.sealer import log_seal, log_verifier_key
from audit.services import Actor, auditor_search_record, event_record
from audit.tlog.errors import VerificationError
from audit.tlog.export import verify_bundle
from consent.models import Citizen, Consent
from consent.services import consent_approve, consent_pause
from providers.models import Organisation
from tests.consent.conftest import AVIS, QF

pytestmark = pytest.mark.django_db

HISTORY = "/mes-consentements/historique/"


def proof_path(event: AuditEvent | int) -> str:
    return f"{HISTORY}{event if isinstance(event, int) else event.pk}/preuve.json"


def logged_in(citizen: Citizen, level: str = "eidas2") -> Client:
    """A browser session for `citizen` (the session keys consent.auth.login_citizen sets)."""
    client = Client()
    session = client.session
    session["citizen_id"] = str(citizen.pk)
    session["citizen_eidas_level"] = level
    session.save()
    return client


@pytest.fixture
def record_exchange(mairie: Organisation, cnaf: Organisation) -> Callable[..., AuditEvent]:
    """An exchange event as the exchange service writes it (the mairie obtained a CAF field)."""

    def make(citizen: Citizen, consent: Consent | None = None) -> AuditEvent:
        with transaction.atomic():
            event_id = event_record(
                type=EventType.EXCHANGE_SUCCEEDED,
                actor=Actor(ActorKind.CONSUMER, mairie.siret),
                citizen_ref=citizen.ref,
                consumer=mairie.siret,
                provider=cnaf.siret,
                attestation_type=QF,
                fields=["quotient_familial"],
                purpose="tarification-sociale",
                consent_id=consent.pk if consent else None,
            )
        return AuditEvent.objects.get(pk=event_id)

    return make


class TestHistoryPage:
    def test_it_sends_an_anonymous_visitor_to_the_login(self, catalogue: None) -> None:
        response = Client().get(HISTORY)

        assert response.status_code == 302
        assert response["Location"].startswith("/connexion/?next=")
        assert Client().get(proof_path(1)).status_code == 302

    def test_it_lists_alices_events_in_plain_words_and_none_of_bobs(
        self,
        alice: Citizen,
        bob: Citizen,
        make_request: Callable[..., Consent],
        record_exchange: Callable[..., AuditEvent],
    ) -> None:
        mine = consent_approve(consent=make_request(), citizen=alice, eidas_level="eidas2")
        exchange = record_exchange(alice, mine)
        consent_pause(consent=mine, citizen=alice)
        theirs = consent_approve(
            consent=make_request(attestation_types=[AVIS], purpose_code="tarification-sociale"),
            citizen=bob,
            eidas_level="eidas2",
        )
        bobs_exchange = record_exchange(bob, theirs)

        page = logged_in(alice).get(HISTORY).content.decode()

        assert "Mairie de Villeurbanne a obtenu votre quotient familial CAF / MSA" in page
        assert "Vous avez accepté que Mairie de Villeurbanne obtienne votre quotient familial" in page
        assert "Vous avez suspendu le consentement donné à Mairie de Villeurbanne" in page
        assert "Caisse nationale des allocations familiales" in page  # from whom
        assert f"SIRET {mine.consumer.siret}" in page
        assert f'href="/mes-consentements/{mine.pk}/"' in page
        # Newest first: the pause, then the exchange, then the approval.
        assert page.index("suspendu") < page.index(f'id="event-{exchange.pk}"') < page.index("Vous avez accepté")
        assert f'id="event-{bobs_exchange.pk}"' not in page
        assert str(theirs.pk) not in page
        assert "Avis d" not in page

    def test_it_names_fields_purposes_and_times_in_the_active_language(
        self, alice: Citizen, record_exchange: Callable[..., AuditEvent]
    ) -> None:
        event = record_exchange(alice)
        client = logged_in(alice)

        french = client.get(HISTORY).content.decode()
        client.cookies["django_language"] = "en"
        english = client.get(HISTORY, HTTP_ACCEPT_LANGUAGE="en").content.decode()

        assert ">Tarification sociale des services publics locaux (cantine" in french  # the label, not the code
        assert ">Means-tested pricing of local public services" in english
        assert "(Quotient familial (€))" in french  # the field's label, not its name
        assert "quotient_familial" not in french
        assert "Mairie de Villeurbanne obtained your family quotient (CAF / MSA)" in english
        local = event.occurred_at.astimezone(ZoneInfo("Europe/Paris"))
        assert f'<time datetime="{local.isoformat()}">{local.day} ' in french
        assert f"<br>{local:%H}h{local:%M}</time>" in french  # as French writes times (core/formats)

    def test_an_auditors_search_is_shown_without_the_auditors_name(self, alice: Citizen, catalogue: None) -> None:
        auditor_search_record(
            actor=Actor(ActorKind.AUDITOR, "inspecteur.dupont"),
            filters={"citizen_ref": alice.ref},
            justification="Réquisition judiciaire n° 12",
        )

        page = logged_in(alice).get(HISTORY).content.decode()

        assert "Un contrôleur a consulté le journal avec votre référence (justification enregistrée)" in page
        assert "inspecteur.dupont" not in page

    def test_it_pages_with_a_cursor(self, alice: Citizen, record_exchange: Callable[..., AuditEvent]) -> None:
        events = [record_exchange(alice) for _ in range(3)]
        client = logged_in(alice)

        with pytest.MonkeyPatch.context() as patch:
            patch.setattr("consent.views.history.PAGE_SIZE", 2)
            first = client.get(HISTORY).content.decode()
            second = client.get(HISTORY, {"before": events[1].pk}).content.decode()

        assert f'id="event-{events[2].pk}"' in first and f'id="event-{events[1].pk}"' in first
        assert f'id="event-{events[0].pk}"' not in first
        assert f'href="{HISTORY}?before={events[1].pk}"' in first
        assert f'id="event-{events[0].pk}"' in second and f'id="event-{events[1].pk}"' not in second
        assert f'href="{HISTORY}?before=' not in second

    def test_it_ignores_a_cursor_that_is_not_a_plain_number(
        self, alice: Citizen, record_exchange: Callable[..., AuditEvent]
    ) -> None:
        event = record_exchange(alice)

        response = logged_in(alice).get(HISTORY, {"before": "²"})

        assert response.status_code == 200
        assert f'id="event-{event.pk}"' in response.content.decode()

    def test_its_query_count_does_not_grow_with_the_number_of_events(
        self,
        alice: Citizen,
        make_request: Callable[..., Consent],
        record_exchange: Callable[..., AuditEvent],
    ) -> None:
        consent = consent_approve(
            consent=make_request(attestation_types=[QF, AVIS]), citizen=alice, eidas_level="eidas2"
        )
        record_exchange(alice, consent)
        client = logged_in(alice)
        client.get(HISTORY)  # warm the session and the verifier key's cache

        with CaptureQueriesContext(connection) as few:
            assert client.get(HISTORY).status_code == 200
        for _ in range(60):
            record_exchange(alice, consent)
        log_seal()
        with CaptureQueriesContext(connection) as many:
            page = client.get(HISTORY).content.decode()

        assert page.count('data-event-type="exchange.succeeded"') == 50
        # session, citizen, the history page of events, the citizen's objections, organisations,
        # types, fields
        assert len(many) == len(few) == 7, [q["sql"] for q in many]

    def test_a_consent_over_two_types_names_both_and_their_holders(
        self, alice: Citizen, make_request: Callable[..., Consent]
    ) -> None:
        consent_approve(consent=make_request(attestation_types=[QF, AVIS]), citizen=alice, eidas_level="eidas2")

        page = logged_in(alice).get(HISTORY).content.decode()

        assert "votre quotient familial CAF / MSA et votre avis d&#x27;impôt sur le revenu" in page
        # Each type with its own fields, not one list of types followed by every field.
        data = re.search(r"<li>Données : ([^<]*)</li>", page)
        assert data is not None
        quotient, notice = html.unescape(data.group(1)).split("; ")
        assert quotient.startswith("Quotient familial CAF / MSA (") and "Quotient familial (€)" in quotient
        assert notice.startswith("Avis d'impôt sur le revenu (") and "Revenu fiscal de référence" in notice
        assert "Caisse nationale des allocations familiales" in page
        assert "Direction générale des Finances publiques" in page


class TestProofDownload:
    def test_a_downloaded_proof_verifies_and_fails_after_one_character_changes(
        self, alice: Citizen, record_exchange: Callable[..., AuditEvent]
    ) -> None:
        event = record_exchange(alice)
        log_seal()
        client = logged_in(alice)

        page = client.get(HISTORY).content.decode()
        response = client.get(proof_path(event))

        assert proof_path(event) in page
        assert response.status_code == 200
        assert response["Content-Disposition"] == f'attachment; filename="preuve-{event.pk}.json"'
        bundle = json.loads(response.content)
        assert bundle["event"]["id"] == event.pk
        verify_bundle(bundle, log_verifier_key())
        bundle["event"]["purpose"] = bundle["event"]["purpose"].replace("t", "T", 1)
        with pytest.raises(VerificationError):
            verify_bundle(bundle, log_verifier_key())

    def test_an_unsealed_event_has_no_proof_yet(
        self, alice: Citizen, record_exchange: Callable[..., AuditEvent]
    ) -> None:
        event = record_exchange(alice)
        client = logged_in(alice)

        page = client.get(HISTORY).content.decode()

        assert proof_path(event) not in page
        assert "Preuve disponible dans quelques secondes" in page
        assert client.get(proof_path(event)).status_code == 404

    def test_another_citizens_proof_is_not_found(
        self, alice: Citizen, bob: Citizen, record_exchange: Callable[..., AuditEvent]
    ) -> None:
        bobs = record_exchange(bob)
        log_seal()

        response = logged_in(alice).get(proof_path(bobs))

        assert response.status_code == 404
        assert b"inclusion_proof" not in response.content
        assert logged_in(bob).get(proof_path(bobs)).status_code == 200
        assert logged_in(alice).get(proof_path(2**63)).status_code == 404
