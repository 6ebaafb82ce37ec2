""" "I don't recognise this access": from the citizen's history to a case in the auditor console,
the consumer's DPO told by e-mail (a real SMTP server), the answer shown to the citizen; every
step an event of the trail."""

from __future__ import annotations

import datetime as dt
import re
from email.header import decode_header, make_header

import pytest
from django.db import transaction
from django.test import Client
from django.utils import timezone, translation

from audit.models import ActorKind, AuditEvent, EventType, Objection
from audit.services import Actor, event_record
from consent.models import Citizen
from consent.services.objections import objection_dpo_tell, objections_dpo_due
from providers.models import Organisation
from tests.agents import make_agent
from tests.conftest import SmtpServer
from tests.consent.conftest import QF
from tests.consent.test_pages import csrf, login

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(catalogue: None) -> Client:
    return Client(enforce_csrf_checks=True)


def access(citizen: Citizen, mairie: Organisation, cnaf: Organisation) -> AuditEvent:
    """An exchange of the citizen's data, as the exchange service records it."""
    with transaction.atomic():
        event_id = event_record(
            type=EventType.EXCHANGE_SUCCEEDED,
            actor=Actor(ActorKind.CONSUMER, mairie.siret),
            citizen_ref=citizen.ref,
            consumer=mairie.siret,
            provider=cnaf.siret,
            attestation_type=QF,
            purpose="tarification-sociale",
        )
    return AuditEvent.objects.get(pk=event_id)


def objection_events(objection: Objection) -> list[str]:
    return [
        event.type
        for event in AuditEvent.objects.filter(type__startswith="objection.").order_by("id")
        if event.detail.get("objection") == str(objection.pk)
    ]


def report_path(event: AuditEvent) -> str:
    return f"/mes-consentements/historique/{event.pk}/signaler/"


class TestTheCitizenReports:
    def test_an_entry_of_the_history_offers_it(self, browser: Client, mairie: Organisation, cnaf: Organisation) -> None:
        event = access(login(browser), mairie, cnaf)
        page = browser.get("/mes-consentements/historique/").content.decode()
        assert report_path(event) in page

    def test_it_opens_a_case_and_an_event_without_the_words(
        self, browser: Client, mairie: Organisation, cnaf: Organisation
    ) -> None:
        citizen = login(browser)
        event = access(citizen, mairie, cnaf)
        token = csrf(browser, report_path(event))
        words = "Je n'ai jamais fait de demande à cette mairie."
        response = browser.post(report_path(event), {"csrfmiddlewaretoken": token, "text": words})
        assert response.status_code == 302
        assert response["Location"] == f"/mes-consentements/historique/#event-{event.pk}"
        objection = Objection.objects.get()
        assert (objection.event, objection.citizen_ref, objection.consumer, objection.text, objection.status) == (
            event,
            citizen.ref,
            mairie.siret,
            words,
            "open",
        )
        [opened] = AuditEvent.objects.filter(type=EventType.OBJECTION_OPENED)
        assert (opened.citizen_ref, opened.consumer, opened.actor_kind) == (citizen.ref, mairie.siret, "citizen")
        assert words not in str(opened.detail)
        page = browser.get("/mes-consentements/historique/").content.decode()
        assert "Signalé : en attente de réponse" in page
        assert "Vous avez signalé un accès de Mairie de Villeurbanne que vous ne reconnaissez pas" in page

    def test_a_second_report_on_one_access_shows_the_first_and_changes_nothing(
        self, browser: Client, mairie: Organisation, cnaf: Organisation
    ) -> None:
        event = access(login(browser), mairie, cnaf)
        token = csrf(browser, report_path(event))
        browser.post(report_path(event), {"csrfmiddlewaretoken": token, "text": "Jamais demandé."})

        page = browser.get(report_path(event)).content.decode()
        again = browser.post(report_path(event), {"csrfmiddlewaretoken": token, "text": "Une seconde fois."})

        assert "Signalé : en attente de réponse" in page and 'name="text"' not in page
        assert again.status_code == 302
        assert "Vous avez déjà signalé cet accès" in browser.get(again["Location"]).content.decode()
        assert [o.text for o in Objection.objects.all()] == ["Jamais demandé."]
        assert AuditEvent.objects.filter(type=EventType.OBJECTION_OPENED).count() == 1

    def test_an_empty_report_changes_nothing(self, browser: Client, mairie: Organisation, cnaf: Organisation) -> None:
        event = access(login(browser), mairie, cnaf)
        token = csrf(browser, report_path(event))
        assert browser.post(report_path(event), {"csrfmiddlewaretoken": token, "text": "   "}).status_code == 400
        assert not Objection.objects.exists()
        assert not AuditEvent.objects.filter(type__startswith="objection.").exists()

    def test_nobody_reports_someone_else_s_access(
        self, browser: Client, mairie: Organisation, cnaf: Organisation, bob: Citizen
    ) -> None:
        event = access(bob, mairie, cnaf)
        login(browser, 0)
        assert browser.get(report_path(event)).status_code == 404
        token = csrf(browser, "/mes-consentements/")
        assert browser.post(report_path(event), {"csrfmiddlewaretoken": token, "text": "x"}).status_code == 404
        assert not Objection.objects.exists()


class TestTheCase:
    @pytest.fixture
    def case(self, browser: Client, mairie: Organisation, cnaf: Organisation) -> Objection:
        event = access(login(browser), mairie, cnaf)
        token = csrf(browser, report_path(event))
        browser.post(report_path(event), {"csrfmiddlewaretoken": token, "text": "Jamais demandé."})
        return Objection.objects.get()

    def test_the_consumer_s_dpo_is_told_once(self, case: Objection, mairie: Organisation, smtp: SmtpServer) -> None:
        with translation.override("en"):  # a worker whose language is not the e-mail's
            assert objection_dpo_tell(objection_id=case.pk) is True
        [message] = smtp.wait_for(1)
        assert message["To"] == mairie.dpo_email
        body = message.get_payload(decode=True).decode()
        assert str(case.pk) in body and "Jamais demandé." in body and str(case.event_id) in body
        # Subject and body in one language, whatever the language the worker runs in.
        assert (
            str(make_header(decode_header(message["Subject"]))).strip().startswith(f"Signalement {str(case.pk)[:8]} :")
        )
        assert objection_dpo_tell(objection_id=case.pk) is False
        case.refresh_from_db()
        assert case.dpo_told_at is not None
        assert len(smtp.messages) == 1

    def test_a_dpo_not_told_is_tried_again_by_the_sweep(self, case: Objection, settings: object) -> None:
        assert objections_dpo_due() == []  # the first try follows the commit
        assert objections_dpo_due(now=timezone.now() + dt.timedelta(minutes=10)) == [case.pk]

    def test_an_auditor_answers_the_citizen_reads_it_and_the_case_closes(
        self, browser: Client, case: Objection, supervisor: Organisation
    ) -> None:
        auditor = Client(enforce_csrf_checks=True)
        auditor.force_login(make_agent(supervisor, "inspectrice", roles=["auditor"]).user)
        listing = auditor.get("/audit/console/objections/").content.decode()
        assert f"/audit/console/objections/{case.pk}/" in listing
        path = f"/audit/console/objections/{case.pk}/"
        page = auditor.get(path).content.decode()
        assert "Jamais demandé." in page
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page)
        assert token
        answer = "La mairie a vérifié : la demande venait d'un dossier de cantine à votre nom."
        assert auditor.post(path, {"csrfmiddlewaretoken": token.group(1), "answer": answer}).status_code == 302
        case.refresh_from_db()
        assert (case.status, case.answer) == ("answered", answer)

        history = browser.get("/mes-consentements/historique/").content.decode()
        assert "Signalé : réponse reçue" in history
        assert "la demande venait d&#x27;un dossier de cantine" in history

        assert auditor.post(path, {"csrfmiddlewaretoken": token.group(1), "close": "1"}).status_code == 302
        case.refresh_from_db()
        assert case.status == "closed"
        assert objection_events(case) == ["objection.opened", "objection.answered", "objection.closed"]
        answered = AuditEvent.objects.get(type=EventType.OBJECTION_ANSWERED)
        assert answered.actor_kind == "auditor" and answer not in str(answered.detail)

    def test_only_auditors_see_the_cases(self, case: Objection, cnaf: Organisation) -> None:
        anonymous = Client()
        assert anonymous.get("/audit/console/objections/").status_code == 302
        other = Client()
        other.force_login(make_agent(cnaf, "collegue", roles=["administrator"]).user)
        assert other.get("/audit/console/objections/").status_code == 403
        assert other.get(f"/audit/console/objections/{case.pk}/").status_code == 403
