"""Requests addressed to a person: only they see and decide them; a request addressed to nobody
belongs to the first logged-in citizen who opens it."""

from __future__ import annotations

import datetime as dt
import hashlib
import html
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from consent.models import Citizen, Consent
from consent.rules import pivot_identity_hash
from consent.services import consent_approve, consent_reject
from core.errors import NotFound
from providers.demodata.population import Population, demo_citizens
from tests.conftest import ApiCaller
from tests.consent.test_pages import approval_path, csrf, login
from tests.consent.test_requests_api import body, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(catalogue: None) -> Client:
    return Client(enforce_csrf_checks=True)


def hash_of(population: Population, index: int) -> str:
    """The hash as a consumer computes it from the pivot identity, written out independently of
    the product's function (the documented format is the contract)."""
    person = demo_citizens(population)[index]
    lines = [
        person.nom_naissance.upper(),
        " ".join(person.prenoms).upper(),
        person.date_naissance.isoformat(),
        person.sexe,
        person.code_cog_lieu_naissance,
    ]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


class TestTheHash:
    def test_it_is_the_documented_one(self, population: Population):
        person = demo_citizens(population)[1]
        prenoms = " ".join(person.prenoms)
        ours = pivot_identity_hash(
            nom_naissance=f" {person.nom_naissance.lower()} ",
            prenoms=f"{prenoms.lower()}  ",
            date_naissance=person.date_naissance,
            sexe=person.sexe.lower(),
            code_cog_lieu_naissance=person.code_cog_lieu_naissance,
        )
        assert ours == hash_of(population, 1)


class TestAddressedRequests:
    @pytest.fixture
    def addressed(self, client: Client, mairie_caller: ApiCaller, population: Population) -> Consent:
        response = post(client, mairie_caller, body(pivot_identity_hash=hash_of(population, 1)))
        assert response.status_code == 201, response.content
        return Consent.objects.get(pk=response.json()["id"])

    def test_once_it_expires_unopened_the_addressee_still_finds_it_and_why_it_ended(
        self, browser: Client, addressed: Consent
    ):
        Consent.objects.filter(pk=addressed.pk).update(request_expires_at=timezone.now() - dt.timedelta(minutes=1))
        login(browser, 1)
        page = html.unescape(browser.get("/mes-consentements/").content.decode())
        addressed.refresh_from_db()
        assert (addressed.status, addressed.status_reason, addressed.citizen) == ("expired", "request_expired", None)
        assert f'id="consent-{addressed.pk}"' in page and "La demande a expiré le" in page
        assert f"/mes-consentements/{addressed.pk}/" not in page  # nothing to open: it was never theirs to decide
        login(browser, 0)
        assert f'id="consent-{addressed.pk}"' not in browser.get("/mes-consentements/").content.decode()

    def test_it_refuses_a_malformed_hash_and_creates_nothing(self, client: Client, mairie_caller: ApiCaller):
        response = post(client, mairie_caller, body(pivot_identity_hash="Not-A-Hash"))
        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert "pivot_identity_hash" in response.json()["errors"]
        assert not Consent.objects.exists()

    def test_it_waits_on_the_addressee_s_dashboard_only(self, browser: Client, addressed: Consent):
        assert addressed.addressee and addressed.citizen is None
        login(browser, 1)
        page = browser.get("/mes-consentements/").content.decode()
        assert "En attente de votre décision" in page and approval_path(addressed) in page
        login(browser, 0)
        page = browser.get("/mes-consentements/").content.decode()
        assert approval_path(addressed) not in page

    def test_someone_else_with_the_link_can_neither_see_nor_decide_it(self, browser: Client, addressed: Consent):
        login(browser, 0)
        assert browser.get(approval_path(addressed)).status_code == 404
        token = csrf(browser, "/mes-consentements/")
        for action in ("apercu/", "accepter/", "refuser/"):
            assert browser.post(approval_path(addressed) + action, {"csrfmiddlewaretoken": token}).status_code == 404
        addressed.refresh_from_db()
        assert (addressed.status, addressed.citizen) == ("pending", None)

    def test_the_addressee_decides_it(self, browser: Client, addressed: Consent):
        citizen = login(browser, 1)
        token = csrf(browser, approval_path(addressed))
        response = browser.post(approval_path(addressed) + "accepter/", {"csrfmiddlewaretoken": token})
        assert response.status_code == 302
        addressed.refresh_from_db()
        assert (addressed.status, addressed.citizen) == ("active", citizen)

    def test_the_services_refuse_anyone_else(self, addressed: Consent, alice: Citizen):
        with pytest.raises(NotFound):
            consent_approve(consent=addressed, citizen=alice, eidas_level="eidas2")
        with pytest.raises(NotFound):
            consent_reject(consent=addressed, citizen=alice)
        addressed.refresh_from_db()
        assert addressed.status == "pending"


class TestUnaddressedRequests:
    def test_the_first_citizen_to_open_it_keeps_it(self, browser: Client, pending: Consent):
        first = login(browser, 0)
        assert browser.get(approval_path(pending)).status_code == 200
        pending.refresh_from_db()
        assert pending.citizen == first
        assert approval_path(pending) in browser.get("/mes-consentements/").content.decode()

        login(browser, 1)
        assert browser.get(approval_path(pending)).status_code == 404
        token = csrf(browser, "/mes-consentements/")
        assert browser.post(approval_path(pending) + "accepter/", {"csrfmiddlewaretoken": token}).status_code == 404
        pending.refresh_from_db()
        assert (pending.status, pending.citizen) == ("pending", first)

    def test_the_same_person_through_another_login_may_still_decide(
        self, browser: Client, pending: Consent, alice: Citizen
    ):
        login(browser, 0)  # alice is the same demo person, known under another login
        assert browser.get(approval_path(pending)).status_code == 200
        consent = consent_approve(consent=pending, citizen=alice, eidas_level="eidas2")
        assert (consent.status, consent.citizen) == ("active", alice)

    def test_a_decided_request_stays_hidden_from_others(
        self, browser: Client, make_request: Callable[..., Any], bob: Citizen
    ):
        consent = make_request()
        consent_approve(consent=consent, citizen=bob, eidas_level="eidas2")
        login(browser, 0)
        assert browser.get(approval_path(consent)).status_code == 404
