"""Requests addressed by a one-time code: the consumer gives the person a code by its own channel;
the link alone opens nothing; the person who enters the code gets the request, and only they may
decide it. Wrong codes change nothing, and attempts are limited."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from django.test import Client

from audit.models import AuditEvent, EventType
from consent.models import Citizen, Consent
from consent.rules import citizen_addressee, one_time_code_ref
from consent.services import consent_approve
from core import ratelimit
from core.errors import NotFound
from tests.conftest import ApiCaller
from tests.consent.conftest import events, snapshot
from tests.consent.test_pages import approval_path, csrf, login
from tests.consent.test_requests_api import body, post

pytestmark = pytest.mark.django_db

CODE_SHAPE = re.compile(r"[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}")


@pytest.fixture(autouse=True)
def one_window(monkeypatch: pytest.MonkeyPatch) -> None:
    # The limiter counts in one-minute windows of the wall clock: its clock stands still, so that
    # no test straddles two windows (Redis still counts for real).
    frozen = time.time()
    monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: frozen))


@pytest.fixture
def browser(catalogue: None) -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def coded(client: Client, mairie_caller: ApiCaller) -> tuple[Consent, str]:
    response = post(client, mairie_caller, body(one_time_code=True))
    assert response.status_code == 201, response.content
    return Consent.objects.get(pk=response.json()["id"]), response.json()["one_time_code"]


def enter(browser: Client, code: str, consent: Consent | None = None) -> Any:
    path = approval_path(consent) + "code/" if consent else "/mes-consentements/code/"
    token = csrf(browser, "/mes-consentements/")
    return browser.post(path, {"code": code, "csrfmiddlewaretoken": token})


def bound_events(consent: Consent) -> list[AuditEvent]:
    return events(consent, EventType.CONSENT_BOUND)


class TestTheApi:
    def test_it_gives_the_code_once_and_keeps_only_a_hash(
        self, client: Client, coded: tuple[Consent, str], mairie_caller: ApiCaller
    ):
        consent, code = coded
        assert CODE_SHAPE.fullmatch(code)
        assert consent.code_ref == one_time_code_ref(code)
        assert code.replace("-", "") not in str(snapshot(consent))
        assert (consent.citizen, consent.addressee) == (None, "")
        again = client.get(f"/api/v1/consents/{consent.pk}", headers=mairie_caller.headers)
        assert again.status_code == 200 and again.json()["one_time_code"] is None

    def test_a_replay_under_the_same_key_does_not_give_a_new_code(self, client: Client, mairie_caller: ApiCaller):
        first = post(client, mairie_caller, body(one_time_code=True), **{"Idempotency-Key": "k-1"})
        replay = post(client, mairie_caller, body(one_time_code=True), **{"Idempotency-Key": "k-1"})
        assert first.json()["one_time_code"] and replay.json()["id"] == first.json()["id"]
        assert replay.json()["one_time_code"] is None
        consent = Consent.objects.get()
        assert consent.code_ref == one_time_code_ref(first.json()["one_time_code"])

    @pytest.mark.parametrize(
        "overrides",
        [
            {"one_time_code": True, "pivot_identity_hash": "a" * 64},
            {"one_time_code": "yes"},
            {"one_time_code": 1},
        ],
    )
    def test_it_refuses_a_bad_addressing_and_creates_nothing(
        self, client: Client, mairie_caller: ApiCaller, overrides: dict[str, Any]
    ):
        response = post(client, mairie_caller, body(**overrides))
        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert "one_time_code" in response.json()["errors"]
        assert not Consent.objects.exists()


class TestTheLink:
    def test_it_asks_for_the_code_and_shows_nothing_else(self, browser: Client, coded: tuple[Consent, str]):
        consent, _ = coded
        login(browser, 0)
        page = browser.get(approval_path(consent))
        assert page.status_code == 200
        text = page.content.decode()
        assert 'name="code"' in text and "Mairie de Villeurbanne" in text
        assert "Quotient familial" not in text and "dossier-42" not in text
        token = csrf(browser, "/mes-consentements/")
        for action in ("apercu/", "accepter/", "refuser/"):
            assert browser.post(approval_path(consent) + action, {"csrfmiddlewaretoken": token}).status_code == 404
        before = snapshot(consent)
        assert snapshot(consent) == before and before["citizen_id"] is None

    def test_the_right_code_makes_it_theirs_and_only_theirs(self, browser: Client, coded: tuple[Consent, str]):
        consent, code = coded
        citizen = login(browser, 1)
        response = enter(browser, code, consent)
        assert response.status_code == 302 and response["Location"] == approval_path(consent)
        consent.refresh_from_db()
        assert consent.citizen == citizen and consent.addressee and consent.code_ref == ""
        [bound] = bound_events(consent)
        assert (bound.actor_kind, bound.actor, bound.citizen_ref) == ("citizen", citizen.ref, citizen.ref)
        assert bound.detail["by"] == "code"
        page = browser.get(approval_path(consent)).content.decode()
        assert "Quotient familial" in page and "fr-alert--success" in page
        assert approval_path(consent) in browser.get("/mes-consentements/").content.decode()

        # The form sent again by its owner leads to the request, nothing more.
        assert enter(browser, code, consent)["Location"] == approval_path(consent)
        assert len(bound_events(consent)) == 1

        login(browser, 0)
        assert browser.get(approval_path(consent)).status_code == 404
        assert enter(browser, code, consent).status_code == 400
        consent.refresh_from_db()
        assert consent.citizen == citizen

    def test_a_wrong_code_says_so_and_changes_nothing(self, browser: Client, coded: tuple[Consent, str]):
        consent, _ = coded
        login(browser, 0)
        before = snapshot(consent)
        response = enter(browser, "AAAA-BBBB-CCCC", consent)
        assert response.status_code == 400
        assert "Ce code n’ouvre aucune demande en attente de votre décision" in response.content.decode()
        assert snapshot(consent) == before
        assert bound_events(consent) == []


class TestTheDashboard:
    def test_a_code_typed_loosely_still_opens_its_request(self, browser: Client, coded: tuple[Consent, str]):
        consent, code = coded
        citizen = login(browser, 1)
        assert 'href="/mes-consentements/code/"' in browser.get("/mes-consentements/").content.decode()
        loose = " " + code.lower().replace("-", " ").replace("0", "o").replace("1", "l") + " "
        response = enter(browser, loose)
        assert response.status_code == 302 and response["Location"] == approval_path(consent)
        consent.refresh_from_db()
        assert consent.citizen == citizen
        dashboard = browser.get("/mes-consentements/").content.decode()
        waiting = dashboard.split('id="group-waiting"')[1].split("</section>")[0]
        assert approval_path(consent) in waiting

    def test_an_expired_request_does_not_open(self, browser: Client, coded: tuple[Consent, str]):
        consent, code = coded
        Consent.objects.filter(pk=consent.pk).update(request_expires_at=consent.created_at)
        login(browser, 1)
        assert enter(browser, code).status_code == 400
        consent.refresh_from_db()
        assert consent.citizen is None

    def test_attempts_are_limited_even_for_the_right_code(
        self, browser: Client, coded: tuple[Consent, str], settings: Any
    ):
        settings.CONSENT_CODE_ATTEMPTS_PER_MINUTE = 3
        consent, code = coded
        login(browser, 1)
        for _ in range(3):
            assert enter(browser, "AAAA-BBBB-CCCC").status_code == 400
        refused = enter(browser, code)
        assert refused.status_code == 429
        assert "Trop d’essais" in refused.content.decode()
        consent.refresh_from_db()
        assert consent.citizen is None

    def test_attempts_on_one_request_are_limited_whoever_tries(
        self, browser: Client, coded: tuple[Consent, str], settings: Any
    ):
        settings.CONSENT_CODE_ATTEMPTS_PER_MINUTE = 2
        consent, code = coded
        for index in (0, 2):
            login(browser, index)
            assert enter(browser, "AAAA-BBBB-CCCC", consent).status_code == 400
        login(browser, 1)
        assert enter(browser, code, consent).status_code == 429
        consent.refresh_from_db()
        assert consent.citizen is None


class TestBindingIsRecorded:
    def test_the_first_opener_of_an_unaddressed_request(self, browser: Client, pending: Consent):
        citizen = login(browser, 0)
        assert browser.get(approval_path(pending)).status_code == 200
        assert browser.get(approval_path(pending)).status_code == 200
        [bound] = bound_events(pending)
        assert (bound.citizen_ref, bound.detail["by"]) == (citizen.ref, "link")

    def test_the_person_named_by_the_consumer_on_first_opening(
        self, browser: Client, make_request: Callable[..., Consent], alice: Citizen
    ):
        consent = make_request()
        Consent.objects.filter(pk=consent.pk).update(addressee=citizen_addressee(alice))
        citizen = login(browser, 0)  # alice's person, under another login
        assert browser.get(approval_path(consent)).status_code == 200
        [bound] = bound_events(consent)
        assert (bound.citizen_ref, bound.detail["by"]) == (citizen.ref, "identity")

    def test_the_history_says_it_in_words(self, browser: Client, coded: tuple[Consent, str]):
        consent, code = coded
        login(browser, 1)
        enter(browser, code, consent)
        page = browser.get("/mes-consentements/historique/").content.decode()
        assert "est devenue la vôtre" in page

    def test_the_services_refuse_a_request_waiting_for_its_code(self, coded: tuple[Consent, str], alice: Citizen):
        consent, _ = coded
        with pytest.raises(NotFound):
            consent_approve(consent=consent, citizen=alice, eidas_level="eidas2")
