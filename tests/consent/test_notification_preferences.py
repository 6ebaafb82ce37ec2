"""The citizen chooses how they are told of accesses to their data, and at which address."""

from __future__ import annotations

import html

import pytest
from django.test import Client

from audit.models import AuditEvent, EventType
from consent.models import Citizen
from tests.consent.test_pages import csrf, login

pytestmark = pytest.mark.django_db
PAGE = "/mes-consentements/notifications/"


@pytest.fixture
def browser(catalogue: None) -> Client:
    return Client(enforce_csrf_checks=True)


def test_it_needs_a_login(browser: Client) -> None:
    assert browser.get(PAGE).status_code == 302


def test_each_access_is_the_default_and_the_choice_is_saved(browser: Client) -> None:
    citizen = login(browser)
    assert citizen.notify == Citizen.Notify.EACH
    token = csrf(browser, PAGE)
    response = browser.post(PAGE, {"csrfmiddlewaretoken": token, "notify": "daily", "email": "moi@example.fr"})
    assert response.status_code == 302
    citizen.refresh_from_db()
    assert (citizen.notify, citizen.email) == ("daily", "moi@example.fr")
    page = browser.get(PAGE).content.decode()
    assert "Votre choix est enregistré." in page and 'value="moi@example.fr"' in page


def test_the_choice_is_recorded_in_the_trail_without_the_address(browser: Client) -> None:
    citizen = login(browser)
    token = csrf(browser, PAGE)
    browser.post(PAGE, {"csrfmiddlewaretoken": token, "notify": "daily", "email": "moi@example.fr"})
    [event] = AuditEvent.objects.filter(type=EventType.CITIZEN_NOTIFICATIONS_SET)
    assert (event.actor_kind, event.actor, event.citizen_ref) == ("citizen", citizen.ref, citizen.ref)
    assert event.detail == {"notify": "daily", "email_changed": True, "email_given": True}
    assert "moi@example.fr" not in str(AuditEvent.objects.filter(pk=event.pk).values().get())
    history = browser.get("/mes-consentements/historique/").content.decode()
    assert "Vous avez choisi comment être prévenu des accès à vos données" in history


def test_a_refused_choice_records_nothing(browser: Client) -> None:
    login(browser)
    token = csrf(browser, PAGE)
    browser.post(PAGE, {"csrfmiddlewaretoken": token, "notify": "hourly", "email": "a@example.fr"})
    assert not AuditEvent.objects.filter(type=EventType.CITIZEN_NOTIFICATIONS_SET).exists()


def test_e_mails_need_an_address_and_a_bad_choice_changes_nothing(browser: Client) -> None:
    citizen = login(browser)
    token = csrf(browser, PAGE)
    response = browser.post(PAGE, {"csrfmiddlewaretoken": token, "notify": "each", "email": ""})
    assert response.status_code == 400
    assert "Une adresse électronique est nécessaire" in response.content.decode()
    response = browser.post(PAGE, {"csrfmiddlewaretoken": token, "notify": "hourly", "email": "a@example.fr"})
    assert response.status_code == 400
    before = (citizen.notify, citizen.email)
    citizen.refresh_from_db()
    assert (citizen.notify, citizen.email) == before


def test_no_e_mail_needs_no_address(browser: Client) -> None:
    citizen = login(browser)
    token = csrf(browser, PAGE)
    assert browser.post(PAGE, {"csrfmiddlewaretoken": token, "notify": "never", "email": ""}).status_code == 302
    citizen.refresh_from_db()
    assert (citizen.notify, citizen.email) == ("never", None)


def test_without_an_address_the_page_says_no_e_mail_is_sent_and_a_bad_one_gets_one_message(browser: Client) -> None:
    login(browser)  # the demo login gives no e-mail address
    page = html.unescape(browser.get(PAGE).content.decode())
    assert "Aucun courriel ne vous est encore envoyé" in page
    assert "Votre fournisseur d'identité n'en a donné aucune" in page or "Votre fournisseur d’identité" in page

    token = csrf(browser, PAGE)
    refused = html.unescape(
        browser.post(
            PAGE, {"csrfmiddlewaretoken": token, "notify": "each", "email": "pas-une-adresse"}
        ).content.decode()
    )
    assert "Saisissez une adresse e-mail valide." in refused
    assert "Une adresse électronique est nécessaire" not in refused
