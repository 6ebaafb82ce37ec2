from __future__ import annotations

import datetime as dt
import html
import re
import zoneinfo
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import OperationalError
from django.test import Client

from audit.models import AuditEvent
from audit.services import Actor
from consent.models import Citizen, Consent
from consent.services import consent_approve, consent_revoke
from providers.demo import catalogue_load
from providers.demodata.catalogue import DLNUF_TEXT_EN, DLNUF_TEXT_FR
from providers.demodata.population import Population, demo_citizens
from providers.models import Organisation
from tests.consent.conftest import AVIS, QF, events, snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(catalogue: None) -> Client:
    """A client that enforces CSRF like a real browser session does."""
    return Client(enforce_csrf_checks=True)


def csrf(client: Client, path: str) -> str:
    response = client.get(path)
    assert response.status_code == 200, path
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', response.content.decode())
    assert match, "the page has no CSRF token"
    return match.group(1)


def login(client: Client, index: int = 0, level: str = "eidas2") -> Citizen:
    token = csrf(client, "/connexion/demo/")
    response = client.post(
        "/connexion/demo/", {"citizen": index, "eidas_level": level, "next": "", "csrfmiddlewaretoken": token}
    )
    assert response.status_code == 302
    return Citizen.objects.get(subject=f"demo-{index}")


def euros(amount: int) -> str:
    """An amount as the French pages write it: grouped by thousands, then the euro sign."""
    return f"{amount:,}".replace(",", "\xa0") + "\xa0€"


def approval_path(consent: Consent) -> str:
    return f"/consentements/demandes/{consent.pk}/"


class TestLogin:
    def test_the_demo_login_creates_the_citizen_once_and_rotates_the_session(self, browser: Client):
        browser.get("/connexion/demo/")
        browser.session.save()
        before = browser.cookies["sessionid"].value if "sessionid" in browser.cookies else ""
        citizen = login(browser, 1, "eidas3")
        assert browser.cookies["sessionid"].value != before
        assert citizen.nom_naissance == demo_citizens(Population())[1].nom_naissance
        login(browser, 1, "eidas1")
        assert Citizen.objects.filter(subject="demo-1").count() == 1
        assert browser.get("/mes-consentements/").status_code == 200

    def test_the_demo_login_does_not_exist_outside_demo_mode(self, browser: Client, settings: Any):
        settings.DEMO_MODE = False
        assert browser.get("/connexion/demo/").status_code == 404
        client = Client()
        assert client.post("/connexion/demo/", {"citizen": 0, "eidas_level": "eidas3"}).status_code == 404
        assert not Citizen.objects.exists()
        assert "/connexion/demo/" not in browser.get("/connexion/").content.decode()

    def test_the_login_page_explains_and_links_to_the_demo(self, browser: Client):
        page = browser.get("/connexion/?next=/mes-consentements/").content.decode()
        assert "FranceConnect" in page
        assert "/connexion/demo/" in page

    def test_it_refuses_an_outside_next(self, browser: Client):
        token = csrf(browser, "/connexion/demo/")
        response = browser.post(
            "/connexion/demo/",
            {"citizen": 0, "eidas_level": "eidas2", "next": "https://evil.example/", "csrfmiddlewaretoken": token},
        )
        assert response["Location"] == "/mes-consentements/"


class TestApprovalPage:
    def test_it_sends_an_anonymous_visitor_to_login(self, browser: Client, pending: Consent):
        response = browser.get(approval_path(pending))
        assert response.status_code == 302
        assert urlsplit(response["Location"]).path == "/connexion/"
        assert parse_qs(urlsplit(response["Location"]).query)["next"] == [approval_path(pending)]

    def test_it_shows_the_terms(self, browser: Client, pending: Consent, mairie: Organisation, cnaf: Organisation):
        login(browser)
        response = browser.get(approval_path(pending))
        page = response.content.decode()
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        for text in (mairie.name, mairie.siret, cnaf.name, "Quotient familial", "Tarif de la cantine scolaire"):
            assert text in page, text
        assert "90 jours" in page
        assert "Sans limite" in page
        assert "L. 114-8" in page
        assert "/mes-consentements/" in page
        assert "J&#x27;accepte" in page or "J'accepte" in page
        assert "Je refuse" in page

    def test_it_speaks_english_too(self, browser: Client, pending: Consent):
        login(browser)
        page = browser.get(approval_path(pending), headers={"Accept-Language": "en"}).content.decode()
        assert "Who is asking?" in page
        assert "I approve" in page

    def test_it_writes_dates_in_words_in_either_language(self, browser: Client, pending: Consent):
        expires = dt.datetime(2026, 12, 7, 20, 6, tzinfo=zoneinfo.ZoneInfo("Europe/Paris"))
        Consent.objects.filter(pk=pending.pk).update(request_expires_at=expires)
        login(browser)
        english = browser.get(approval_path(pending), headers={"Accept-Language": "en"}).content.decode()
        assert "This request expires on 7 December 2026 at 20:06." in english
        french = browser.get(approval_path(pending)).content.decode()
        assert "7 décembre 2026 à 20h06" in french
        assert not re.search(r"\b\d{2}/\d{2}/\d{4}\b", english + french)

    def test_it_gives_the_legal_basis_in_the_page_s_language(self, browser: Client, pending: Consent):
        citizen = login(browser)
        active = consent_approve(consent=pending, citizen=citizen, eidas_level="eidas2")
        paths = [
            approval_path(active),
            f"/mes-consentements/{active.pk}/",
            f"/mes-consentements/{active.pk}/recu/",
            f"/catalogue/{QF}/",
        ]
        for path in paths:
            english = browser.get(path, headers={"Accept-Language": "en"}).content.decode()
            assert DLNUF_TEXT_EN.replace("'", "&#x27;") in english, path
            assert "Échange de données entre administrations" not in english, path
            french = browser.get(path).content.decode()
            assert DLNUF_TEXT_FR.replace("'", "&#x27;") in french, path

    def test_it_explains_a_login_level_too_low(self, browser: Client, make_request: Callable[..., Consent]):
        consent = make_request(attestation_types=[AVIS])
        login(browser, 0, "eidas1")
        page = browser.get(approval_path(consent)).content.decode()
        assert "Niveau de connexion insuffisant" in page
        assert "level=eidas2" in page
        assert "J&#x27;accepte" not in page and "J'accepte" not in page and "/accepter/" not in page
        # Refusing needs no stronger login: the page offers it.
        assert "Je refuse" in page and f"{approval_path(consent)}refuser/" in page

    def test_it_lets_the_person_refuse_below_the_level(self, browser: Client, make_request: Callable[..., Consent]):
        consent = make_request(attestation_types=[AVIS])
        login(browser, 0, "eidas1")
        token = csrf(browser, approval_path(consent))
        response = browser.post(approval_path(consent) + "refuser/", {"csrfmiddlewaretoken": token})
        assert response.status_code == 302
        consent.refresh_from_db()
        assert consent.status == "rejected"
        assert events(consent, "consent.rejected")

    def test_it_refuses_an_approval_below_the_level(self, browser: Client, make_request: Callable[..., Consent]):
        consent = make_request(attestation_types=[AVIS])
        login(browser, 0, "eidas1")
        token = csrf(browser, approval_path(consent))
        before = snapshot(consent)
        response = browser.post(approval_path(consent) + "accepter/", {"csrfmiddlewaretoken": token})
        assert response.status_code == 403
        assert snapshot(consent) == before
        assert not events(consent, "consent.approved")

    def test_it_says_when_the_request_was_already_decided(self, browser: Client, pending: Consent):
        citizen = login(browser)
        active = consent_approve(consent=pending, citizen=citizen, eidas_level="eidas2")
        page = browser.get(approval_path(active)).content.decode()
        assert "déjà reçu une réponse" in page
        assert "/accepter/" not in page

    def test_it_says_when_the_request_expired(self, browser: Client, pending: Consent):
        Consent.objects.filter(pk=pending.pk).update(request_expires_at=pending.created_at)
        login(browser)
        page = browser.get(approval_path(pending)).content.decode()
        assert "Cette demande a expiré" in page
        assert "/accepter/" not in page


class TestPreview:
    def test_it_fetches_the_data_for_the_citizen_only(self, browser: Client, pending: Consent, population: Population):
        citizen = login(browser, 0)
        token = csrf(browser, approval_path(pending))
        before = snapshot(pending)
        response = browser.post(approval_path(pending) + "apercu/", {"csrfmiddlewaretoken": token})
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        record = population.record(demo_citizens(population)[0], QF)
        assert record is not None
        page = response.content.decode()
        assert euros(record["quotient_familial"]) in page
        [event] = events(pending, "citizen.previewed")
        assert (event.citizen_ref, event.attestation_type) == (citizen.ref, QF)
        assert event.detail == {"outcome": "succeeded"}
        assert str(record["quotient_familial"]) not in str(event.detail) + str(event.fields)
        assert snapshot(pending) == before

    def test_it_shows_the_data_in_words_not_as_code(self, browser: Client, pending: Consent, population: Population):
        login(browser, 1)  # married, two children
        token = csrf(browser, approval_path(pending))
        page = browser.post(approval_path(pending) + "apercu/", {"csrfmiddlewaretoken": token}).content.decode()
        record = population.record(demo_citizens(population)[1], QF)
        assert record is not None and record["enfants"]
        preview = page[page.index('id="preview-title"') :]
        assert "<pre" not in preview and "prenoms" not in preview and "date_naissance" not in preview
        assert "{" not in preview and "[" not in preview
        assert preview.count('class="gw-card"') == len(record["enfants"])
        first_name = record["enfants"][0]["prenoms"]
        assert first_name in preview
        assert ("Caisse d&#x27;allocations familiales" in preview) or ("Mutualité sociale agricole" in preview)
        months = [
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ]
        assert months[record["mois"] - 1].capitalize() in preview
        assert 'name="allow"' in page

    def test_it_needs_the_csrf_token(self, browser: Client, pending: Consent):
        login(browser, 0)
        assert browser.post(approval_path(pending) + "apercu/").status_code == 403
        assert not events(pending, "citizen.previewed")

    def test_it_explains_a_provider_that_does_not_know_the_citizen(self, browser: Client, pending: Consent):
        login(browser, 2)  # known to the DGFiP only, not to the CAF
        token = csrf(browser, approval_path(pending))
        page = browser.post(approval_path(pending) + "apercu/", {"csrfmiddlewaretoken": token}).content.decode()
        assert "ne trouve pas de dossier" in page
        assert "fr-alert" in page
        # Nothing found: only to refuse or to close, never to approve.
        assert "été trouvé à votre sujet" in page
        assert 'name="allow"' not in page
        assert "/refuser/" in page and 'href="/mes-consentements/"' in page
        [event] = events(pending, "citizen.previewed")
        assert event.detail == {"outcome": "subject_not_found"}

    def test_it_says_part_was_found_when_one_administration_has_the_person_and_another_not(
        self, browser: Client, make_request: Callable[..., Consent]
    ):
        both = make_request(attestation_types=[QF, "dgfip.avis-imposition"])
        login(browser, 2)  # known to the DGFiP only, not to the CAF
        token = csrf(browser, approval_path(both))
        page = html.unescape(
            browser.post(approval_path(both) + "apercu/", {"csrfmiddlewaretoken": token}).content.decode()
        )
        assert "Une partie des données demandées n'a pas été trouvée" in page
        assert "Rien n'a été trouvé à votre sujet" not in page
        assert "Revenu fiscal de référence" in page and 'name="allow"' not in page

    def test_it_calls_the_real_sandbox_over_http(
        self, browser: Client, pending: Consent, population: Population, sandbox_url: str
    ):
        catalogue_load(adapter_kind="http", base_url=sandbox_url)
        login(browser, 0)
        token = csrf(browser, approval_path(pending))
        page = browser.post(approval_path(pending) + "apercu/", {"csrfmiddlewaretoken": token}).content.decode()
        record = population.record(demo_citizens(population)[0], QF)
        assert record is not None
        assert euros(record["quotient_familial"]) in page
        assert events(pending, "citizen.previewed")[0].detail == {"outcome": "succeeded"}


class TestDecisions:
    def test_approving_without_the_csrf_token_changes_nothing(self, browser: Client, pending: Consent):
        login(browser)
        before = snapshot(pending)
        assert browser.post(approval_path(pending) + "accepter/").status_code == 403
        assert browser.post(approval_path(pending) + "refuser/").status_code == 403
        assert snapshot(pending) == before
        assert len(events(pending)) == 1

    def test_approving_returns_to_the_consumer(self, browser: Client, make_request: Callable[..., Consent]):
        consent = make_request(return_url="https://demarches.villeurbanne.fr/retour?dossier=42")
        citizen = login(browser)
        token = csrf(browser, approval_path(consent))
        response = browser.post(approval_path(consent) + "accepter/", {"csrfmiddlewaretoken": token})
        assert response.status_code == 302
        target = urlsplit(response["Location"])
        assert target.netloc == "demarches.villeurbanne.fr"
        assert parse_qs(target.query) == {"dossier": ["42"], "consent": [str(consent.pk)], "status": ["active"]}
        consent.refresh_from_db()
        assert (consent.status, consent.citizen, consent.eidas_level) == ("active", citizen, "eidas2")
        assert len(events(consent, "consent.approved")) == 1

    def test_rejecting_asks_no_reason_and_shows_the_consent(self, browser: Client, pending: Consent):
        login(browser)
        token = csrf(browser, approval_path(pending))
        response = browser.post(approval_path(pending) + "refuser/", {"csrfmiddlewaretoken": token})
        assert response["Location"] == f"/mes-consentements/{pending.pk}/"
        pending.refresh_from_db()
        assert pending.status == "rejected"
        assert len(events(pending, "consent.rejected")) == 1

    def test_an_action_s_address_opened_by_get_leads_back_to_its_page_and_decides_nothing(
        self, browser: Client, pending: Consent
    ):
        # As after a session that ended: the login sends the person back, by GET, to where they clicked.
        page = approval_path(pending)
        login(browser)
        for action in ("accepter/", "refuser/", "apercu/", "code/"):
            answer = browser.get(page + action)
            assert (answer.status_code, answer["Location"]) == (302, page), action
            assert browser.head(page + action).status_code == 302
        assert browser.get(page).status_code == 200
        pending.refresh_from_db()
        assert pending.status == "pending" and len(events(pending)) == 2  # requested, then bound at the opening
        mine = consent_approve(consent=pending, citizen=Citizen.objects.get(subject="demo-0"), eidas_level="eidas2")
        for action in ("suspendre/", "reprendre/"):
            answer = browser.get(f"/mes-consentements/{mine.pk}/{action}")
            assert (answer.status_code, answer["Location"]) == (302, f"/mes-consentements/{mine.pk}/")
        mine.refresh_from_db()
        assert mine.status == "active"


class TestDashboard:
    @pytest.fixture
    def mine(self, browser: Client, pending: Consent) -> Consent:
        citizen = login(browser)
        return consent_approve(consent=pending, citizen=citizen, eidas_level="eidas2")

    def test_it_lists_consents_by_status(self, browser: Client, mine: Consent, make_request: Callable[..., Consent]):
        citizen = Citizen.objects.get(subject="demo-0")
        other = make_request(reference="other")
        token = csrf(browser, approval_path(other))
        browser.post(approval_path(other) + "refuser/", {"csrfmiddlewaretoken": token})
        page = browser.get("/mes-consentements/").content.decode()
        assert page.index("En vigueur") < page.index("Terminés")
        assert f"/mes-consentements/{mine.pk}/" in page
        assert "Session ouverte au nom de <strong>" in page  # the same words for everyone
        # The purpose, in words, and where each stands, with its date.
        assert "Tarification sociale des services publics locaux" in page
        assert "Refusée par vous le" in page and "Donné le" in page
        assert "Vos données n'ont pas été obtenues" in page or "Vos données n&#x27;ont pas été obtenues" in page
        assert Consent.objects.filter(citizen=citizen).count() == 2

    def test_every_page_s_header_says_who_is_logged_in_and_offers_to_log_out(self, browser: Client, mine: Consent):
        citizen = Citizen.objects.get(subject="demo-0")
        for path in (f"/mes-consentements/{mine.pk}/", "/mes-consentements/historique/", "/catalogue/", "/"):
            header = browser.get(path).content.decode().split('<div class="fr-header__menu')[0]
            assert citizen.display_name in header and 'action="/deconnexion/"' in header, path
        assert citizen.display_name not in Client().get("/").content.decode()

    def test_the_header_without_the_database_leaves_the_name_out_and_still_renders(
        self, browser: Client, mine: Consent, monkeypatch: pytest.MonkeyPatch
    ):
        # Stands in for a database that fails while an error page renders (the faults tests stop
        # the real one); only the header's lookup fails here.
        def failing(request: Any) -> None:
            raise OperationalError("the database is gone")

        monkeypatch.setattr("consent.context_processors.current_citizen", failing)
        page = browser.get("/catalogue/")
        assert page.status_code == 200 and 'action="/deconnexion/"' not in page.content.decode()

    def test_the_list_query_count_does_not_grow(
        self, browser: Client, mine: Consent, make_request: Callable[..., Consent], django_assert_num_queries: Any
    ):
        # Session, citizen, expiry sweep, consents, items with their types, accesses from the trail,
        # and whom they may act for (register checks, mandates held).
        with django_assert_num_queries(8):
            browser.get("/mes-consentements/")
        citizen = Citizen.objects.get(subject="demo-0")
        for reference in ("b", "c", "d"):
            consent_approve(
                consent=make_request(reference=reference, attestation_types=[QF, AVIS]),
                citizen=citizen,
                eidas_level="eidas2",
            )
        with django_assert_num_queries(8):
            assert browser.get("/mes-consentements/").content.decode().count("/retirer/") == 4

    def test_the_citizen_pauses_and_resumes(self, browser: Client, mine: Consent):
        detail = f"/mes-consentements/{mine.pk}/"
        token = csrf(browser, detail)
        assert browser.post(detail + "suspendre/").status_code == 403
        assert browser.post(detail + "suspendre/", {"csrfmiddlewaretoken": token}).status_code == 302
        mine.refresh_from_db()
        assert mine.status == "paused"
        page = browser.get(detail).content.decode()
        assert "fr-alert--success" in page and "Consentement suspendu" in page
        assert "Suspendu par vous le" in page
        assert browser.post(detail + "reprendre/", {"csrfmiddlewaretoken": token}).status_code == 302
        mine.refresh_from_db()
        assert mine.status == "active"
        assert [e.type for e in events(mine)][-2:] == ["consent.paused", "consent.resumed"]

    def test_revoking_asks_to_confirm_then_revokes(self, browser: Client, mine: Consent):
        path = f"/mes-consentements/{mine.pk}/retirer/"
        token = csrf(browser, path)
        mine.refresh_from_db()
        assert mine.status == "active"  # the confirmation page changed nothing
        assert browser.post(path).status_code == 403
        mine.refresh_from_db()
        assert mine.status == "active"
        response = browser.post(path, {"csrfmiddlewaretoken": token})
        assert response["Location"] == f"/mes-consentements/{mine.pk}/"
        mine.refresh_from_db()
        assert (mine.status, mine.status_reason) == ("revoked", "citizen")
        assert len(events(mine, "consent.revoked")) == 1
        page = browser.get(response["Location"]).content.decode()
        assert "Consentement retiré" in page and "Retiré par vous le" in page
        assert "Comment retirer votre accord" not in page and "Valable" not in page

    def test_a_refusal_reads_as_a_refusal(self, browser: Client, pending: Consent):
        login(browser)
        token = csrf(browser, approval_path(pending))
        browser.post(approval_path(pending) + "refuser/", {"csrfmiddlewaretoken": token})
        page = browser.get(f"/mes-consentements/{pending.pk}/").content.decode()
        assert "Demande refusée" in page  # the success message
        assert "Consentement donné" not in page
        assert "Refusée par vous le" in page
        assert "Comment retirer votre accord" not in page and "Valable" not in page

    def test_an_end_by_the_administration_says_so(self, browser: Client, mine: Consent):
        consent_revoke(consent=mine, actor=Actor.system(), reason="consumer")
        page = browser.get(f"/mes-consentements/{mine.pk}/").content.decode()
        assert "Terminé par Mairie de Villeurbanne le" in page
        assert re.search(r"fr-badge\">\s*Terminé par l('|&#x27;)administration", page)
        assert "Retiré par vous" not in page

    def test_another_citizen_sees_nothing(self, browser: Client, mine: Consent):
        login(browser, 1)
        assert browser.get(f"/mes-consentements/{mine.pk}/").status_code == 404
        token = csrf(browser, "/mes-consentements/")
        assert browser.post(f"/mes-consentements/{mine.pk}/retirer/", {"csrfmiddlewaretoken": token}).status_code == 404
        mine.refresh_from_db()
        assert mine.status == "active"
        assert AuditEvent.objects.filter(type="consent.revoked").count() == 0
