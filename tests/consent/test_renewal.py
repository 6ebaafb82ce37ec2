"""Renewal a few weeks before the end: the administration sends a new request with the same
terms; it waits on the person's dashboard, and only they may decide it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from consent.models import Citizen, Consent, WebhookDelivery
from consent.services import consent_approve
from consent.services.lifecycle import consents_expire_due
from consent.services.notices import renewal_tell
from core.errors import InvalidTransition
from tests.conftest import ApiCaller, SmtpServer
from tests.consent.test_pages import approval_path, csrf, login

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(catalogue: None) -> Client:
    return Client(enforce_csrf_checks=True)


def renew(client: Client, caller: ApiCaller, consent: Consent) -> Any:
    return client.post(f"/api/v1/consents/{consent.pk}/renewal", headers=caller.headers)


def ending_in(consent: Consent, days: int) -> Consent:
    Consent.objects.filter(pk=consent.pk).update(valid_until=timezone.now() + dt.timedelta(days=days))
    consent.refresh_from_db()
    return consent


class TestRenewal:
    @pytest.fixture
    def given(self, browser: Client, make_request: Callable[..., Consent], mairie_caller: ApiCaller) -> Consent:
        citizen = login(browser, 1)
        return consent_approve(
            consent=make_request(client=mairie_caller.application), citizen=citizen, eidas_level="eidas2"
        )

    def test_it_is_refused_long_before_the_end(self, client: Client, mairie_caller: ApiCaller, given: Consent) -> None:
        response = renew(client, mairie_caller, given)
        assert response.status_code == 409
        assert not given.renewals.exists()

    def test_a_renewal_waits_for_the_person_who_alone_decides_it(
        self, client: Client, browser: Client, mairie_caller: ApiCaller, given: Consent
    ) -> None:
        ending_in(given, 20)
        response = renew(client, mairie_caller, given)
        assert response.status_code == 201, response.content
        renewal = Consent.objects.get(pk=response.json()["id"])
        assert (renewal.status, renewal.renews, renewal.citizen) == ("pending", given, given.citizen)
        assert [i.fields for i in renewal.items.all()] == [i.fields for i in given.items.all()]
        assert renew(client, mairie_caller, given).json()["id"] == str(renewal.pk)  # the same, again

        dashboard = browser.get("/mes-consentements/").content.decode()
        assert approval_path(renewal) in dashboard and "Un renouvellement de votre consentement" in dashboard
        page = browser.get(approval_path(renewal)).content.decode()
        assert "Renouveler un consentement que vous avez donné" in page

        other = Client(enforce_csrf_checks=True)
        login(other, 0)
        assert other.get(approval_path(renewal)).status_code == 404

        token = csrf(browser, approval_path(renewal))
        assert browser.post(approval_path(renewal) + "accepter/", {"csrfmiddlewaretoken": token}).status_code == 302
        renewal.refresh_from_db()
        assert renewal.status == "active" and renewal.citizen == given.citizen
        # The renewal replaces the consent it renews: one consent in force for these terms.
        given.refresh_from_db()
        assert (given.status, given.status_reason) == ("revoked", "renewed")
        assert renewal.valid_until is not None and given.valid_until is not None
        assert renewal.valid_until > given.valid_until
        [replaced] = AuditEvent.objects.filter(consent_id=given.pk, type="consent.revoked")
        assert (replaced.detail["reason"], replaced.detail["renewal"]) == ("renewed", str(renewal.pk))
        dashboard = browser.get("/mes-consentements/").content.decode()
        assert "Remplacé le" in dashboard and dashboard.count("Donné le") == 1
        history = browser.get("/mes-consentements/historique/").content.decode()
        assert "Le consentement donné à Mairie de Villeurbanne a été remplacé par son renouvellement" in history

    def test_the_person_is_told_by_e_mail(
        self, client: Client, mairie_caller: ApiCaller, given: Consent, smtp: SmtpServer
    ) -> None:
        citizen = given.citizen
        assert citizen is not None
        citizen.email = "marie@example.fr"
        citizen.save(update_fields=["email"])
        ending_in(given, 20)
        renewal = Consent.objects.get(pk=renew(client, mairie_caller, given).json()["id"])

        assert renewal_tell(consent_id=renewal.pk) is True  # what the task does after the commit
        [message] = smtp.wait_for(1)
        assert message["To"] == "marie@example.fr"
        body = message.get_payload(decode=True).decode()
        assert "Mairie de Villeurbanne vous demande de renouveler" in body
        assert f"/consentements/demandes/{renewal.pk}/" in body

    def test_another_administration_cannot_renew_it(
        self, client: Client, cd_rhone_caller: ApiCaller, given: Consent
    ) -> None:
        ending_in(given, 20)
        assert renew(client, cd_rhone_caller, given).status_code == 404

    def test_an_ended_consent_is_not_renewed(
        self, client: Client, mairie_caller: ApiCaller, given: Consent, alice: Citizen
    ) -> None:
        Consent.objects.filter(pk=given.pk).update(status="revoked")
        assert renew(client, mairie_caller, ending_in(given, 20)).status_code == 409


class TestARenewalEndsWithItsConsent:
    """Once the consent ends, however it ends, its pending renewal is cancelled with it, and an
    ended consent's renewal can neither be asked for again nor approved."""

    @pytest.fixture
    def given(self, browser: Client, make_request: Callable[..., Consent], mairie_caller: ApiCaller) -> Consent:
        citizen = login(browser, 1)
        consent = consent_approve(
            consent=make_request(client=mairie_caller.application), citizen=citizen, eidas_level="eidas2"
        )
        return ending_in(consent, 20)

    @pytest.fixture
    def renewal(self, client: Client, mairie_caller: ApiCaller, given: Consent) -> Consent:
        response = renew(client, mairie_caller, given)
        assert response.status_code == 201, response.content
        return Consent.objects.get(pk=response.json()["id"])

    def assert_cancelled(self, renewal: Consent) -> None:
        renewal.refresh_from_db()
        assert (renewal.status, renewal.status_reason) == ("revoked", "renewed_consent_ended")
        [event] = AuditEvent.objects.filter(consent_id=renewal.pk, type="consent.revoked")
        assert event.detail["reason"] == "renewed_consent_ended"

    def test_withdrawing_the_consent_cancels_its_renewal(
        self, client: Client, browser: Client, mairie_caller: ApiCaller, given: Consent, renewal: Consent
    ) -> None:
        given.consumer.webhook_url = "https://mairie.example.fr/webhooks"
        given.consumer.save(update_fields=["webhook_url"])
        path = f"/mes-consentements/{given.pk}/retirer/"
        token = csrf(browser, path)
        assert browser.post(path, {"csrfmiddlewaretoken": token}).status_code == 302

        self.assert_cancelled(renewal)
        assert WebhookDelivery.objects.filter(consent=renewal, event_type="consent.revoked").count() == 1
        dashboard = browser.get("/mes-consentements/").content.decode()
        assert "Un renouvellement de votre consentement" not in dashboard
        page = browser.get(approval_path(renewal)).content.decode()
        assert "si vous refusez" not in page.lower()
        assert renew(client, mairie_caller, given).status_code == 409

    def test_the_consumer_ending_the_consent_cancels_its_renewal(
        self, client: Client, mairie_caller: ApiCaller, given: Consent, renewal: Consent
    ) -> None:
        response = client.delete(f"/api/v1/consents/{given.pk}", headers=mairie_caller.headers)
        assert response.status_code == 204
        self.assert_cancelled(renewal)
        response = renew(client, mairie_caller, given)
        assert response.status_code == 409
        assert response.json()["code"] == "invalid_transition"

    def test_expiry_cancels_its_renewal(self, given: Consent, renewal: Consent) -> None:
        Consent.objects.filter(pk=given.pk).update(valid_until=timezone.now() - dt.timedelta(minutes=1))
        assert consents_expire_due() == 1
        self.assert_cancelled(renewal)

    def test_asking_again_once_the_consent_has_ended_is_refused(
        self, client: Client, mairie_caller: ApiCaller, given: Consent, renewal: Consent
    ) -> None:
        # Ended but not yet marked by the sweep: the renewal request still pending.
        Consent.objects.filter(pk=given.pk).update(valid_until=timezone.now() - dt.timedelta(minutes=1))
        response = renew(client, mairie_caller, given)
        assert response.status_code == 409
        assert response.json()["code"] == "invalid_transition"

    def test_a_renewal_of_an_ended_consent_cannot_be_approved(
        self, browser: Client, given: Consent, renewal: Consent
    ) -> None:
        token = csrf(browser, approval_path(renewal))
        # Past its end, not yet marked by the sweep: opening the request marks it, and cancels this.
        Consent.objects.filter(pk=given.pk).update(valid_until=timezone.now() - dt.timedelta(minutes=1))
        page = browser.get(approval_path(renewal)).content.decode()
        assert "Renouveler un consentement que vous avez donné" not in page
        assert "/accepter/" not in page
        browser.post(approval_path(renewal) + "accepter/", {"csrfmiddlewaretoken": token})
        self.assert_cancelled(renewal)
        assert not Consent.objects.filter(citizen=given.citizen, status="active").exists()

    def test_the_approval_itself_refuses_a_renewal_of_an_ended_consent(self, given: Consent, renewal: Consent) -> None:
        # Whatever the pages read first: the transition checks the renewed consent under its lock.
        Consent.objects.filter(pk=given.pk).update(valid_until=timezone.now() - dt.timedelta(minutes=1))
        citizen = given.citizen
        assert citizen is not None
        with pytest.raises(InvalidTransition):
            consent_approve(consent=renewal, citizen=citizen, eidas_level="eidas2")
        renewal.refresh_from_db()
        assert renewal.status == "pending"
