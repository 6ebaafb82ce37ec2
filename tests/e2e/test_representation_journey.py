"""Issue 15's journey in a real Chromium: a company's legal representative logs in, names the
company (the register is asked live), approves a public buyer's request for the Urssaf and DGFiP
attestations, delegates to an accountant, who acts within the delegation and is refused outside
it; the representative withdraws the delegation and the accountant is refused at the next action;
the company's history shows every access with a proof that verifies offline. axe-core on every
new page, at 375 px."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from audit.sealer import log_seal, log_verifier_key
from audit.tlog.export import verify_bundle
from consent.demo import companies_load
from consent.models import Citizen, Company, Consent, Mandate
from consent.services.citizens import citizen_from_demo
from consent.services.representation import legal_mandate_record
from providers.adapters.demo import demo_register
from providers.models import Organisation
from tests.conftest import ApiCaller
from tests.e2e.conftest import PHONE, axe_violations, horizontal_overflow, too_wide
from tests.e2e.test_citizen_pages import CODES, MAIN_TEXT, OTHER_LANGUAGE

# A delegation lasts three years at most.
NEXT_YEAR = (dt.date.today() + dt.timedelta(days=365)).isoformat()
pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

VIGILANCE = "urssaf.attestation-vigilance"
FISCALE = "dgfip.attestation-fiscale"


@pytest.fixture(autouse=True)
def register() -> Iterator[None]:
    yield
    demo_register().reinstate()


def check(page: Page, where: str) -> None:
    assert axe_violations(page) == [], where
    assert horizontal_overflow(page) == 0, f"{where}: {too_wide(page)}"


def ask(live_server: LiveServer, caller: ApiCaller, company: Company, types: list[str]) -> tuple[Consent, str]:
    response = requests.post(
        f"{live_server.url}/api/v1/consent-requests",
        json={
            "attestation_types": types,
            "purpose": {"code": "marche-public", "text": "Marché 2026-017 : menuiseries de l'école"},
            "duration_days": 90,
            "subject": {"siret": company.siret},
        },
        headers=caller.headers,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return Consent.objects.get(pk=response.json()["id"]), live_server.url + urlsplit(
        response.json()["approval_url"]
    ).path


def log_in(page: Page, live_server: LiveServer, next_path: str, *, index: int) -> None:
    page.goto(f"{live_server.url}/connexion/demo/?next={next_path}")
    page.locator(f"label[for='id_citizen_{index}']").click()
    page.locator("input[name='eidas_level'][value='eidas2'] + label").click()
    page.locator("main form button[type='submit']").click()


def test_a_representative_approves_delegates_and_revokes_and_the_history_proves_every_access(
    browser: Browser,
    axe_source: str,
    live_server: LiveServer,
    mairie: Organisation,
    make_caller: Callable[..., ApiCaller],
) -> None:
    companies_load()
    joinery = Company.objects.get(siret=demo_register()[0].siret)
    consumer = make_caller(
        mairie, scopes=f"consents:read consents:write attestations:{VIGILANCE} attestations:{FISCALE}"
    )
    tender, approval = ask(live_server, consumer, joinery, [VIGILANCE, FISCALE])

    contexts = []

    def person() -> Page:
        context = browser.new_context(locale="fr-FR", viewport=PHONE)
        context.add_init_script(script=axe_source)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(15_000)
        return page

    try:
        # The representative (demo person 1) logs in and names the company: the register lists him.
        representative = person()
        log_in(representative, live_server, "/mes-consentements/", index=1)
        expect(representative).to_have_url(f"{live_server.url}/mes-consentements/")
        check(representative, "dashboard")
        representative.locator("#company-add-form input[name='siret']").fill(joinery.siret)
        representative.locator("#company-add-form button[type='submit']").click()
        expect(representative).to_have_url(f"{live_server.url}/entreprises/{joinery.siren}/")
        expect(representative.locator("#acting-for-banner")).to_contain_text("Vous agissez pour Menuiserie Exemple")
        check(representative, "company page")
        representative.goto(f"{live_server.url}/mes-consentements/")
        expect(representative.locator("#acting-for-list")).to_contain_text("Menuiserie Exemple")

        # He approves the public buyer's request for both attestations.
        representative.goto(approval)
        expect(representative.locator("#acting-for-banner")).to_contain_text("représentant légal")
        check(representative, "approval page")
        representative.locator("button[name='allow']").click()
        expect(representative).to_have_url(f"{live_server.url}/entreprises/{joinery.siren}/")
        assert Consent.objects.get(pk=tender.pk).status == "active"

        # The public buyer obtains both attestations by the company's SIRET.
        for slug in (VIGILANCE, FISCALE):
            got = requests.get(
                f"{live_server.url}/api/v1/attestations/{slug}",
                params={"consent": str(tender.pk)},
                headers=consumer.headers,
                timeout=10,
            )
            assert got.status_code == 200, got.text
            assert got.json()["attestation"]["subject_ref"] == joinery.ref
        decided = requests.get(f"{live_server.url}/api/v1/consents/{tender.pk}", headers=consumer.headers, timeout=10)
        assert decided.json()["decided_by"]["role"] == "legal_representative"

        # He delegates to his accountant: the Urssaf attestation only, approve and read the history.
        representative.locator(f"#delegate-form input[value='{VIGILANCE}'] + label").click()
        representative.locator("#delegate-form input[value='approve'] + label").click()
        representative.locator("#delegate-form input[value='read_history'] + label").click()
        representative.locator("#delegate-form input[name='valid_until']").fill(NEXT_YEAR)
        representative.locator("#delegate-form button[type='submit']").click()
        link = representative.locator("#invitation-url").inner_text()
        check(representative, "delegation created")

        # The accountant (demo person 0) accepts it and acts within it...
        accountant = person()
        invitation = urlsplit(link).path
        log_in(accountant, live_server, invitation, index=0)
        expect(accountant).to_have_url(live_server.url + invitation)
        check(accountant, "invitation")
        accountant.locator("main form button[type='submit']").click()
        expect(accountant.locator("#acting-for-banner")).to_contain_text("par délégation")
        within, within_url = ask(live_server, consumer, joinery, [VIGILANCE])
        accountant.goto(within_url)
        accountant.locator("button[name='allow']").click()
        expect(accountant).to_have_url(f"{live_server.url}/entreprises/{joinery.siren}/")
        assert Consent.objects.get(pk=within.pk).ground == "delegate"

        # ...and is refused outside it (the DGFiP attestation is not delegated).
        outside, outside_url = ask(live_server, consumer, joinery, [VIGILANCE, FISCALE])
        accountant.goto(outside_url)
        expect(accountant.locator("main")).to_contain_text("ne couvre pas")
        check(accountant, "refused outside the delegation")

        # The representative withdraws the delegation; the accountant is refused at the next action.
        representative.goto(f"{live_server.url}/entreprises/{joinery.siren}/")
        representative.locator("form[action$='/retirer/'] button", has_text="Retirer cette délégation").click()
        expect(representative.locator(".fr-alert--success")).to_be_visible()
        assert Mandate.objects.get().status == "revoked"
        accountant.goto(within_url.replace(str(within.pk), str(outside.pk)))
        expect(accountant.locator("main")).to_contain_text("a pris fin")
        assert Consent.objects.get(pk=outside.pk).status == "pending"

        # The company's history: every access, each with a proof that verifies offline.
        log_seal()
        representative.goto(f"{live_server.url}/entreprises/{joinery.siren}/historique/")
        rows = representative.locator("#history-table tbody tr")
        expect(rows.filter(has_text="a obtenu")).to_have_count(2)
        check(representative, "company history")
        with representative.expect_download() as download_info:
            representative.locator("tr[data-event-type='exchange.succeeded'] a[download]").first.click()
        bundle: dict[str, Any] = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
        assert bundle["event"]["type"] == "exchange.succeeded"
        assert bundle["event"]["citizen_ref"] == joinery.ref
        verify_bundle(bundle, log_verifier_key())
    finally:
        for context in contexts:
            context.close()


@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_page_of_acting_for_a_company_reads_in_one_language_with_no_codes(
    axe: Page,
    browser: Browser,
    axe_source: str,
    live_server: LiveServer,
    mairie: Organisation,
    make_caller: Callable[..., ApiCaller],
    language: str,
) -> None:
    page = axe
    page.set_viewport_size(PHONE)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
    companies_load()
    joinery = Company.objects.get(siret=demo_register()[0].siret)
    consumer = make_caller(mairie)
    _, approval = ask(live_server, consumer, joinery, [VIGILANCE])

    log_in(page, live_server, "/mes-consentements/", index=1)
    expect(page).to_have_url(f"{live_server.url}/mes-consentements/")
    page.locator("#company-add-form input[name='siret']").fill(joinery.siret)
    page.locator("#company-add-form button[type='submit']").click()
    expect(page).to_have_url(f"{live_server.url}/entreprises/{joinery.siren}/")
    readable(page, language, "company page")
    page.goto(f"{live_server.url}/mes-consentements/")
    readable(page, language, "dashboard with the acting-for switch")
    page.goto(approval)
    readable(page, language, "approval for the company")
    page.locator("button[name='preview']").click()
    expect(page.locator("main dl dt").first).to_be_visible()
    readable(page, language, "preview of the company's data")
    page.locator("button[name='allow']").click()
    expect(page).to_have_url(f"{live_server.url}/entreprises/{joinery.siren}/")
    readable(page, language, "company page after approval")
    page.locator(f"#delegate-form input[value='{VIGILANCE}'] + label").click()
    page.locator("#delegate-form input[value='approve'] + label").click()
    page.locator("#delegate-form input[name='valid_until']").fill(NEXT_YEAR)
    page.locator("#delegate-form button[type='submit']").click()
    invitation = urlsplit(page.locator("#invitation-url").inner_text()).path
    guardianship = legal_mandate_record(
        principal=citizen_from_demo(index=3),
        agent=Citizen.objects.get(subject="demo-1"),
        types=["mesr.statut-etudiant"],
        actions=["approve", "read_history"],
        valid_until=timezone.now() + dt.timedelta(days=365),
        legal_source="Autorité parentale",
        operator="ops",
    )
    log_seal()
    page.goto(f"{live_server.url}/entreprises/{joinery.siren}/historique/")
    readable(page, language, "company history")
    page.goto(f"{live_server.url}/mes-consentements/")
    readable(page, language, "dashboard with a legal mandate")
    page.goto(f"{live_server.url}/mandats/{guardianship.pk}/")
    readable(page, language, "the page of the person acted for")
    page.goto(f"{live_server.url}/mandats/{guardianship.pk}/historique/")
    readable(page, language, "history of the person acted for")

    other = browser.new_context(locale="fr-FR", viewport=PHONE)
    try:
        other.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
        other.add_init_script(script=axe_source)
        stranger = other.new_page()
        log_in(stranger, live_server, invitation, index=2)
        expect(stranger).to_have_url(live_server.url + invitation)
        readable(stranger, language, "invitation")
        stranger.goto(f"{live_server.url}/entreprises/{joinery.siren}/")
        readable(stranger, language, "refused: not listed in the register")
    finally:
        other.close()


def readable(page: Page, language: str, where: str) -> None:
    check(page, where)
    text = str(page.evaluate(MAIN_TEXT))
    assert not CODES.search(text), f"{where}: {CODES.search(text)}"
    assert not OTHER_LANGUAGE[language].search(text), f"{where}: {OTHER_LANGUAGE[language].search(text)}"
