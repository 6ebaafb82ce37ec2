"""Every page of a citizen's journey, in a real Chromium, on a laptop and on a 375 px phone, in
French and in English: axe-core finds no violation of any impact, the page never scrolls sideways,
and no page shows a JSON structure, an internal code or the other language's words."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
import requests
from django.db import transaction
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from audit.models import ActorKind, EventType
from audit.sealer import log_seal
from audit.services import Actor, event_record
from consent.models import Citizen
from core.places import place_name
from providers.adapters.demo import demo_population
from providers.demodata.population import ETUDIANT, demo_citizens
from tests.conftest import ApiCaller
from tests.e2e.conftest import DESKTOP, PHONE, axe_violations, horizontal_overflow, too_wide
from tests.e2e.test_consent_journey import QF, request_consent

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

# Words of the interface that belong to one language only; text marked with its own `lang` (the
# legal texts and the administrations' own words, held in French) is left out of the check.
OTHER_LANGUAGE = {
    "fr": re.compile(r"\b(your|the|Withdraw|Pause|Resume|Consent|History|approve|reject)\b"),
    "en": re.compile(r"\b(vos|votre|les|Retirer|Suspendre|Reprendre|Consentement|Historique|données)\b", re.I),
}
# A JSON structure, a snake_case key, a catalogue slug or purpose code, an error code, an INSEE
# place code (a commune's, 2A/2B for Corsica, or a country's 99xxx; ISO/IEC TS 27560 is no place).
CODES = re.compile(
    r'[{}\[\]]|"\w+"\s*:|\b[a-z]+_[a-z_]+\b|\bcnaf\.|\bmesr\.|tarification-sociale|tarif-etudiant'
    r"|(?<!TS )\b\d[\dAB]\d{3}\b"
)

MAIN_TEXT = """() => {
    const main = document.querySelector('main').cloneNode(true);
    const lang = document.documentElement.lang;
    for (const el of main.querySelectorAll('[lang]')) if (el.lang !== lang) el.remove();
    for (const el of main.querySelectorAll('.fr-sr-only, script, style')) el.remove();
    return main.innerText;
}"""


def check(page: Page, language: str, where: str) -> None:
    expect(page.locator("html")).to_have_attribute("lang", language)
    assert axe_violations(page) == [], where
    assert horizontal_overflow(page) == 0, f"{where}: {too_wide(page)}"
    text = str(page.evaluate(MAIN_TEXT))
    assert not CODES.search(text), f"{where}: {CODES.search(text)}"
    assert not OTHER_LANGUAGE[language].search(text), f"{where}: {OTHER_LANGUAGE[language].search(text)}"


def log_in(page: Page, live_server: LiveServer, next_path: str, *, index: int = 0) -> None:
    page.goto(f"{live_server.url}/connexion/demo/?next={next_path}")
    page.locator(f"label[for='id_citizen_{index}']").click()
    page.locator("input[name='eidas_level'][value='eidas2'] + label").click()
    page.locator("main form button[type='submit']").click()


@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_citizen_page_is_accessible_in_both_languages_at_any_width(
    axe: Page, live_server: LiveServer, mairie_caller: ApiCaller, language: str, size: str
) -> None:
    page = axe
    page.set_viewport_size(PHONE if size == "phone" else DESKTOP)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    consent, approval = request_consent(live_server, mairie_caller, [QF])
    refused, refused_approval = request_consent(live_server, mairie_caller, [QF])

    page.goto(approval)
    check(page, language, "login")
    log_in(page, live_server, approval.removeprefix(live_server.url), index=1)
    expect(page).to_have_url(approval)
    check(page, language, "approval")

    page.locator("button[name='preview']").click()
    expect(page.locator(".gw-card").first).to_be_visible()
    check(page, language, "preview")

    page.locator("button[name='allow']").click()
    expect(page).to_have_url(f"{live_server.url}/mes-consentements/{consent.pk}/")
    expect(page.locator(".fr-alert--success")).to_be_visible()
    check(page, language, "detail after approval")

    page.locator(f"form[action$='/{consent.pk}/suspendre/'] button").click()
    expect(page.locator(".fr-alert--success")).to_be_visible()
    check(page, language, "detail after pause")

    page.goto(refused_approval)
    page.locator("form button:not([name])").last.click()
    expect(page).to_have_url(f"{live_server.url}/mes-consentements/{refused.pk}/")
    check(page, language, "detail after refusal")

    page.goto(f"{live_server.url}/mes-consentements/")
    check(page, language, "dashboard")

    page.goto(f"{live_server.url}/mes-consentements/{consent.pk}/retirer/")
    check(page, language, "withdrawal confirmation")
    page.locator(f"main form[action$='/{consent.pk}/retirer/'] button[type='submit']").click()
    expect(page.locator(".fr-alert--success")).to_be_visible()
    check(page, language, "detail after withdrawal")

    # An access to report, sealed with the rest so that its proof can be checked.
    citizen = Citizen.objects.get(subject="demo-1")
    with transaction.atomic():
        event_record(
            type=EventType.EXCHANGE_SUCCEEDED,
            actor=Actor(ActorKind.CONSUMER, mairie_caller.organisation.siret),
            citizen_ref=citizen.ref,
            consumer=mairie_caller.organisation.siret,
            attestation_type=QF,
            fields=["quotient_familial"],
            purpose="tarification-sociale",
            consent_id=consent.pk,
        )
    log_seal()
    page.goto(f"{live_server.url}/mes-consentements/historique/")
    check(page, language, "history")

    page.locator("a[href$='/verification/']").first.click()
    page.wait_for_function("() => document.getElementById('browser-check').dataset.outcome")
    expect(page.locator("#browser-check [data-result='verified']")).to_be_visible()
    check(page, language, "proof check")

    page.goto(f"{live_server.url}/mes-consentements/historique/")
    page.locator("a[href$='/signaler/']").first.click()
    check(page, language, "objection")
    page.locator("textarea[name='text']").fill("Je ne connais pas cette mairie.")
    page.locator("main form button[type='submit']").click()
    expect(page.locator(".fr-alert--success")).to_be_visible()
    check(page, language, "history after the report")

    page.goto(f"{live_server.url}/mes-consentements/{consent.pk}/recu/")
    check(page, language, "printable receipt")
    page.goto(f"{live_server.url}/mes-consentements/mes-donnees/")
    check(page, language, "my data")

    page.goto(f"{live_server.url}/mes-consentements/notifications/")
    check(page, language, "notification preferences")
    page.locator("input[name='notify'][value='daily'] + label").click()
    page.locator("input[name='email']").fill("marie@example.fr")
    page.locator("main form button[type='submit']").click()
    expect(page.locator(".fr-alert--success")).to_be_visible()
    check(page, language, "notification preferences saved")


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_preview_that_finds_nothing_offers_only_to_refuse_or_close(
    axe: Page, live_server: LiveServer, mairie_caller: ApiCaller, language: str
) -> None:
    page = axe
    page.set_viewport_size(PHONE)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    _consent, approval = request_consent(live_server, mairie_caller, [QF])
    log_in(page, live_server, approval.removeprefix(live_server.url), index=2)  # unknown to the CAF
    page.locator("button[name='preview']").click()
    expect(page.locator(".fr-alert--info")).to_be_visible()
    expect(page.locator("button[name='allow']")).to_have_count(0)
    expect(page.locator("a[href='/mes-consentements/']").last).to_be_visible()
    check(page, language, "nothing found")


@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_pages_every_public_service_has(axe: Page, live_server: LiveServer, language: str, size: str) -> None:
    page = axe
    page.set_viewport_size(PHONE if size == "phone" else DESKTOP)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    for path in ("/mentions-legales/", "/donnees-personnelles/", "/accessibilite/", "/aide/"):
        page.goto(live_server.url + path)
        check(page, language, path)


def post_request(live_server: LiveServer, caller: ApiCaller, **extra: object) -> tuple[str, dict[str, object]]:
    """A consent request over real HTTP; the approval path on the live server, and the body."""
    data: dict[str, object] = {
        "attestation_types": [QF],
        "purpose": {"code": "tarification-sociale", "text": "Tarif de la cantine scolaire"},
        "duration_days": 90,
        **extra,
    }
    url = f"{live_server.url}/api/v1/consent-requests"
    response = requests.post(url, json=data, headers=caller.headers, timeout=10)
    assert response.status_code == 201, response.text
    body = response.json()
    return live_server.url + urlsplit(body["approval_url"]).path, body


@pytest.mark.parametrize("size", ["desktop", "phone"])
@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_request_addressed_by_a_one_time_code(
    axe: Page, live_server: LiveServer, mairie_caller: ApiCaller, language: str, size: str
) -> None:
    page = axe
    page.set_viewport_size(PHONE if size == "phone" else DESKTOP)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    approval, body = post_request(live_server, mairie_caller, one_time_code=True)
    log_in(page, live_server, "/mes-consentements/", index=1)
    expect(page).to_have_url(f"{live_server.url}/mes-consentements/")

    page.locator("a[href='/mes-consentements/code/']").click()
    check(page, language, "I have a code")
    page.locator("input[name='code']").fill("AAAA-BBBB-CCCC")
    page.locator("main form button[type='submit']").click()
    expect(page.locator(".fr-input-group--error")).to_be_visible()
    check(page, language, "a wrong code")

    page.goto(approval)
    expect(page.locator("input[name='code']")).to_be_visible()
    check(page, language, "the link asks for its code")
    page.locator("input[name='code']").fill(str(body["one_time_code"]).lower())
    page.locator("main form button[type='submit']").click()
    expect(page).to_have_url(approval)
    expect(page.locator(".fr-alert--success")).to_be_visible()
    check(page, language, "the request, once its code entered")

    page.goto(f"{live_server.url}/mes-consentements/")
    expect(page.locator(f"#group-waiting ~ ul a[href='{urlsplit(approval).path}']").first).to_be_visible()
    check(page, language, "the dashboard with the request waiting")


@pytest.mark.parametrize("language", ["fr", "en"])
def test_a_preview_names_places_never_their_codes(
    axe: Page, live_server: LiveServer, mairie_caller: ApiCaller, language: str
) -> None:
    page = axe
    page.set_viewport_size(PHONE)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    approval, _body = post_request(
        live_server,
        mairie_caller,
        attestation_types=[ETUDIANT],
        purpose={"code": "tarif-etudiant", "text": "Tarif étudiant des transports"},
    )
    log_in(page, live_server, approval.removeprefix(live_server.url), index=0)  # an enrolled student
    page.locator("button[name='preview']").click()
    expect(page.locator("button[name='allow']")).to_be_visible()
    population = demo_population()
    commune_code = population.institution(demo_citizens(population)[0])[2]
    expect(page.locator("main")).to_contain_text(str(place_name(commune_code)))
    check(page, language, "a preview with a municipality")

    page.goto(f"{live_server.url}/mes-consentements/mes-donnees/")
    expect(page.locator("main")).to_contain_text("Grenoble")  # her birthplace, 38185
    check(page, language, "my data, with my birthplace")
