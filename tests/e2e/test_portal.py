"""The administrations' portal in a real Chromium: a consumer's habilitation manager asks for a
habilitation on a phone, in French; the provider's asks for changes in English; the consumer
answers; the provider approves. Every page is checked for accessibility and for fitting 375 px."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from providers.demo import demo_agent
from providers.models import AgentRole, Habilitation, Organisation
from providers.services import role_grant
from tests.agents import OPERATOR
from tests.e2e.conftest import accessibility_problems

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 375, "height": 812}


def fits(page: Page) -> bool:
    """Nothing wider than the screen: no sideways scrolling."""
    return bool(page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth"))


def checked(page: Page) -> None:
    assert accessibility_problems(page) == []
    assert fits(page)


def demo_login_as(page: Page, live_server: LiveServer, organisation: Organisation, next_path: str) -> None:
    role_grant(agent=demo_agent(organisation), role=AgentRole.Role.HABILITATION_MANAGER, actor=OPERATOR)
    page.goto(f"{live_server.url}/agents/connexion/demo/?next={next_path}")
    page.locator("select[name='organisation']").select_option(organisation.siret)
    page.locator("main form button[type='submit']").click()


class TestHabilitationReview:
    def test_a_request_is_drafted_answered_and_approved_through_the_pages(
        self,
        browser: Browser,
        page: Page,
        live_server: LiveServer,
        cd_rhone: Organisation,
        cnaf: Organisation,
        script_errors: list[str],
    ) -> None:
        page.set_viewport_size(PHONE)
        demo_login_as(page, live_server, cd_rhone, "/agents/habilitations/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Habilitations")
        checked(page)
        page.get_by_role("link", name="Quotient familial").first.click()
        expect(page.get_by_role("heading", level=1)).to_contain_text("Demande d'habilitation")
        checked(page)

        page.locator("label[for='id_data_fields_0']").click()
        page.get_by_role("button", name="Enregistrer le brouillon").click()
        expect(page.locator("main")).to_contain_text("Brouillon")
        checked(page)
        page.get_by_role("link", name="Modifier le brouillon").click()
        page.get_by_role("button", name="Déposer la demande").click()
        # Incomplete: refused next to each missing answer, still a draft.
        expect(page.locator(".fr-error-text").first).to_be_visible()
        checked(page)
        script_errors.clear()  # the browser reports the page's 400 as a failed load
        page.locator("input[name='purpose_code'] + label").first.click()
        page.get_by_label("La démarche, en termes simples").fill("Tarifs de la cantine scolaire")
        page.get_by_label("Durée de conservation (jours)").fill("90")
        page.get_by_label("Nom du délégué à la protection des données").fill("Camille Dupont")
        page.get_by_label("Volume attendu (échanges par mois)").fill("1500")
        page.get_by_role("button", name="Déposer la demande").click()
        expect(page.locator("main")).to_contain_text("Soumise")
        habilitation = Habilitation.objects.get(consumer=cd_rhone)
        assert habilitation.status == Habilitation.Status.SUBMITTED

        provider_context = browser.new_context(locale="en-GB")
        provider = provider_context.new_page()
        provider.context.add_cookies([{"name": "django_language", "value": "en", "url": live_server.url}])
        demo_login_as(provider, live_server, cnaf, f"/agents/habilitations/{habilitation.pk}/")
        expect(provider.get_by_role("heading", level=1)).to_contain_text("Habilitation request")
        assert accessibility_problems(provider) == []
        provider.locator("input[name='decision'][value='changes'] + label").click()
        provider.get_by_label("Reason (if changes are asked for or the request is refused)").fill(
            "Précisez la durée de conservation."
        )
        provider.get_by_role("button", name="Record the decision").click()
        expect(provider.locator("main")).to_contain_text("Changes requested")

        page.reload()
        page.get_by_role("link", name="Répondre aux modifications demandées").click()
        expect(page.locator("main")).to_contain_text("Précisez la durée de conservation.")
        checked(page)
        page.get_by_label("Durée de conservation (jours)").fill("60")
        page.get_by_role("button", name="Envoyer ma réponse").click()
        expect(page.locator("main")).to_contain_text("Soumise")

        provider.reload()
        provider.locator("input[name='decision'][value='approve'] + label").click()
        until = timezone.localdate() + dt.timedelta(days=365)
        provider.get_by_label("Valid until (if approved)").fill(until.isoformat())
        provider.get_by_role("button", name="Record the decision").click()
        expect(provider.locator("main")).to_contain_text("Approved")
        assert accessibility_problems(provider) == []

        page.reload()
        expect(page.locator("main")).to_contain_text("Validée")
        checked(page)
        habilitation.refresh_from_db()
        assert (habilitation.status, habilitation.retention_days, habilitation.valid_until) == (
            Habilitation.Status.APPROVED,
            60,
            until,
        )
        provider_context.close()
        assert script_errors == []


class TestEveryPortalPage:
    @pytest.mark.parametrize("language", ["fr", "en"])
    def test_each_page_is_accessible_and_fits_a_phone(
        self, page: Page, live_server: LiveServer, mairie: Organisation, language: str, script_errors: list[str]
    ) -> None:
        agent = demo_agent(mairie)
        for role in (AgentRole.Role.ADMINISTRATOR, AgentRole.Role.HABILITATION_MANAGER):
            role_grant(agent=agent, role=role, actor=OPERATOR)
        page.context.add_cookies([{"name": "django_language", "value": language, "url": live_server.url}])
        page.set_viewport_size(PHONE)
        demo_login_as(page, live_server, mairie, "/agents/")
        for path in (
            "/agents/",
            "/agents/habilitations/",
            "/agents/habilitations/demande/cnaf.quotient-familial/",
            "/agents/membres/",
            "/agents/clients/",
            "/agents/clients/nouveau/",
            "/agents/webhooks/",
            "/agents/operations/",
            "/agents/integration/",
        ):
            page.goto(live_server.url + path)
            expect(page.locator("html")).to_have_attribute("lang", language)
            assert accessibility_problems(page) == [], path
            assert fits(page), path
        assert script_errors == []
