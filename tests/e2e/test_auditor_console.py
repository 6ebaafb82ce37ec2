"""The auditor console in a real Chromium: an agent with the auditor role (the agents' demo login
here; ProConnect in tests/e2e/test_identity.py), a search by event type, and the search itself
recorded in the trail; an agent without the role is refused."""

from __future__ import annotations

import pytest
from django.db import transaction
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from audit.models import ActorKind, AuditEvent, EventType
from audit.sealer import log_seal
from audit.services import Actor, event_record, objection_open
from providers.demo import demo_agent
from providers.models import Agent, Organisation
from providers.services import role_grant
from tests.agents import OPERATOR
from tests.e2e.conftest import DESKTOP, PHONE, accessibility_problems, axe_violations, horizontal_overflow

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

MAIRIE_SIRET = "21690266800013"
CNAF_SIRET = "18003502400017"


@pytest.fixture
def trail(db: None) -> None:
    for type in (EventType.EXCHANGE_SUCCEEDED, EventType.CONSENT_APPROVED, EventType.EXCHANGE_SUCCEEDED):
        with transaction.atomic():
            event_record(
                type=type,
                actor=Actor(ActorKind.CONSUMER, MAIRIE_SIRET),
                citizen_ref="a" * 64,
                consumer=MAIRIE_SIRET,
                provider=CNAF_SIRET,
                attestation_type="cnaf.quotient-familial",
            )
    log_seal()


def demo_agent_of(organisation: Organisation, *, auditor: bool) -> Agent:
    agent = demo_agent(organisation)
    if auditor:
        role_grant(agent=agent, role="auditor", actor=OPERATOR)
    return agent


def console_login(page: Page, live_server: LiveServer, organisation: Organisation) -> None:
    page.goto(f"{live_server.url}/audit/console/login/")
    page.get_by_role("link", name="Connexion de démonstration des agents").click()
    page.get_by_label("Organisation").select_option(organisation.siret)
    page.get_by_role("button", name="Se connecter").click()


@pytest.mark.usefixtures("trail")
class TestAuditorConsole:
    def test_the_console_fits_a_phone(self, page: Page, live_server: LiveServer, supervisor: Organisation) -> None:
        demo_agent_of(supervisor, auditor=True)
        page.set_viewport_size({"width": 375, "height": 812})

        console_login(page, live_server, supervisor)

        expect(page.get_by_role("heading", level=1)).to_have_text("Console d'audit")
        # The signed checkpoint's long lines scroll inside their own box, not the whole page.
        width = "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        assert page.evaluate(width) == 0

    def test_an_auditor_searches_by_event_type_and_the_search_is_recorded(
        self, page: Page, live_server: LiveServer, supervisor: Organisation, script_errors: list[str]
    ) -> None:
        agent = demo_agent_of(supervisor, auditor=True)

        console_login(page, live_server, supervisor)
        expect(page).to_have_url(f"{live_server.url}/audit/console/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Console d'audit")
        expect(page.locator("#content").first).to_contain_text("Vérification complète réussie")
        page.get_by_label("Type d'événement").select_option("exchange.succeeded")
        page.get_by_role("button", name="Rechercher").click()

        rows = page.locator("table tbody tr")
        expect(rows).to_have_count(2)
        for row in rows.all():
            expect(row).to_contain_text("Échange réussi")
        searched = AuditEvent.objects.get(type=EventType.AUDITOR_SEARCHED)
        assert (searched.actor_kind, searched.actor) == (ActorKind.AUDITOR, agent.actor_id)
        assert searched.detail["type"] == "exchange.succeeded"
        assert searched.citizen_ref == ""
        assert script_errors == []

    def test_an_agent_without_the_auditor_role_gets_403(
        self, page: Page, live_server: LiveServer, supervisor: Organisation
    ) -> None:
        demo_agent_of(supervisor, auditor=False)

        console_login(page, live_server, supervisor)

        response = page.goto(f"{live_server.url}/audit/console/?search=1&type=exchange.succeeded")
        assert response is not None and response.status == 403
        assert not AuditEvent.objects.filter(type__startswith="auditor.").exists()

    # The audit templates wrap their content in a second <main id="content"> inside the base
    # template's own: two main landmarks and a duplicate id (the skip link's target). Strict, so
    # the fix turns this red until the marker goes.

    def test_the_console_pages_pass_the_accessibility_smoke_check(
        self, page: Page, live_server: LiveServer, supervisor: Organisation
    ) -> None:
        demo_agent_of(supervisor, auditor=True)
        problems = {}

        page.goto(f"{live_server.url}/audit/console/login/")
        problems["login"] = accessibility_problems(page)
        console_login(page, live_server, supervisor)
        page.get_by_role("button", name="Rechercher").click()
        problems["console"] = accessibility_problems(page)

        assert problems == {"login": [], "console": []}


@pytest.mark.usefixtures("trail")
@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_an_auditor_answers_and_closes_a_citizen_s_objection_on_any_width(
    axe: Page, live_server: LiveServer, supervisor: Organisation, size: str
) -> None:
    page = axe
    page.set_viewport_size(PHONE if size == "phone" else DESKTOP)
    demo_agent_of(supervisor, auditor=True)
    event = AuditEvent.objects.filter(type=EventType.EXCHANGE_SUCCEEDED).first()
    assert event is not None
    case = objection_open(event_id=event.pk, citizen_ref=event.citizen_ref, text="Jamais demandé.", actor=OPERATOR)

    console_login(page, live_server, supervisor)
    page.goto(f"{live_server.url}/audit/console/objections/")
    assert axe_violations(page) == [] and horizontal_overflow(page) == 0
    page.locator(f"a[href='/audit/console/objections/{case.pk}/']").click()
    expect(page.locator("main")).to_contain_text("Jamais demandé.")
    assert axe_violations(page) == [] and horizontal_overflow(page) == 0

    page.locator("textarea[name='answer']").fill("Vérifié avec la mairie : dossier de cantine.")
    page.locator("main form button[type='submit']").first.click()
    expect(page.locator(".fr-alert--success")).to_be_visible()
    assert axe_violations(page) == [] and horizontal_overflow(page) == 0
    page.locator("button[name='close']").click()
    expect(page.locator(".fr-badge").first).to_contain_text("Clos")
    case.refresh_from_db()
    assert (case.status, case.answer) == ("closed", "Vérifié avec la mairie : dossier de cantine.")


@pytest.mark.parametrize("language", ["fr", "en"])
def test_an_organisation_s_agent_reads_why_the_console_is_refused_then_an_expired_form(
    axe: Page, live_server: LiveServer, cd_rhone: Organisation, language: str, script_errors: list[str]
) -> None:
    page = axe
    page.set_viewport_size(PHONE)
    role_grant(agent=demo_agent_of(cd_rhone, auditor=False), role="administrator", actor=OPERATOR)
    console_login(page, live_server, cd_rhone)
    page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])

    response = page.goto(f"{live_server.url}/audit/console/")

    assert response is not None and response.status == 403
    heading, words = {
        "fr": ("Accès refusé", "Cette page est réservée aux auditeurs de la passerelle"),
        "en": ("Access refused", "This page is for the gateway's auditors"),
    }[language]
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.locator("main")).to_contain_text(words)
    assert axe_violations(page) == [] and horizontal_overflow(page) == 0

    # A form sent once its token is gone (an expired session, cookies cleared).
    page.goto(f"{live_server.url}/agents/membres/")
    page.context.clear_cookies(name="csrftoken")
    page.locator("main form button[type='submit']").first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(
        {"fr": "Le formulaire a expiré", "en": "The form has expired"}[language]
    )
    assert axe_violations(page) == [] and horizontal_overflow(page) == 0
    script_errors.clear()  # the browser reports the refusals' statuses as failed loads
