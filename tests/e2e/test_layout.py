"""The page frame from django-dsfr in a real Chromium: the header's mobile menu with the navigation
and the language selector at a phone's width, the switch to English and back, and the DSFR
scripts running without an error on the public pages."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from tests.e2e.conftest import accessibility_problems, demo_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 375, "height": 812}


def open_mobile_menu(page: Page) -> None:
    page.get_by_role("button", name="Menu", exact=True).click()
    expect(page.locator("#fr-menu-mobile")).to_be_visible()


def switch_language(page: Page, scope_selector: str, language: str) -> None:
    """Open the DSFR language selector inside `scope_selector` and pick `language` ("English")."""
    scope = page.locator(scope_selector)
    scope.locator(".fr-translate__btn").click()
    scope.get_by_role("button", name=language).click()


class TestMobileHeader:
    def test_the_menu_opens_with_the_navigation_and_the_language_switch(
        self, page: Page, live_server: LiveServer, script_errors: list[str]
    ) -> None:
        page.set_viewport_size(PHONE)
        page.goto(live_server.url + "/")
        navigation = page.get_by_role("navigation", name="Menu principal")
        # At a phone's width the navigation waits behind the menu button.
        expect(navigation.get_by_role("link", name="Catalogue des données")).to_be_hidden()

        open_mobile_menu(page)

        menu = page.locator("#fr-menu-mobile")
        for name in ("Accueil", "Mes consentements", "Catalogue des données", "Statistiques", "API"):
            expect(menu.get_by_role("link", name=name, exact=True)).to_be_visible()
        # The console is for auditors: nobody else is shown a link to it.
        expect(menu.get_by_role("link", name="Contrôle", exact=True)).to_have_count(0)
        # DSFR's header script copies the tools (the language selector) into the mobile menu.
        expect(menu.locator(".fr-header__menu-links .fr-translate__btn")).to_be_visible()
        assert accessibility_problems(page) == []

        switch_language(page, "#fr-menu-mobile .fr-header__menu-links", "English")

        expect(page.get_by_role("heading", level=1)).to_have_text("Provide it once")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        open_mobile_menu(page)
        expect(page.locator("#fr-menu-mobile").get_by_role("link", name="Data catalogue")).to_be_visible()

        switch_language(page, "#fr-menu-mobile .fr-header__menu-links", "Français")

        expect(page.get_by_role("heading", level=1)).to_have_text("Dites-le-nous une fois")
        expect(page.locator("html")).to_have_attribute("lang", "fr")
        assert script_errors == []

    def test_the_menu_closes_again(self, page: Page, live_server: LiveServer) -> None:
        page.set_viewport_size(PHONE)
        page.goto(live_server.url + "/catalogue/")
        open_mobile_menu(page)

        page.locator("#fr-menu-mobile").get_by_role("button", name="Fermer").click()

        expect(page.locator("#fr-menu-mobile")).to_be_hidden()


@pytest.mark.usefixtures("catalogue")
class TestPublicPages:
    def test_they_switch_to_english_and_back_on_the_desktop_header(
        self, page: Page, live_server: LiveServer, script_errors: list[str]
    ) -> None:
        page.goto(live_server.url + "/catalogue/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Catalogue des attestations")

        switch_language(page, ".fr-header__tools-links", "English")

        # set_language sends the visitor back to the page they were on, now in English.
        expect(page).to_have_url(live_server.url + "/catalogue/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Attestation catalogue")
        page.get_by_role("link", name="Details — Family quotient (CAF / MSA)").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Family quotient (CAF / MSA)")
        expect(page.get_by_role("navigation", name="you are here:")).to_contain_text("Catalogue")
        page.get_by_role("link", name="Statistics", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Exchange statistics")

        switch_language(page, ".fr-header__tools-links", "Français")

        expect(page.get_by_role("heading", level=1)).to_have_text("Statistiques des échanges")
        assert script_errors == []

    def test_no_script_fails_on_any_public_page(
        self, page: Page, live_server: LiveServer, script_errors: list[str]
    ) -> None:
        pages = {
            "/": "Dites-le-nous une fois",
            "/catalogue/": "Catalogue des attestations",
            "/catalogue/cnaf.quotient-familial/": "Quotient familial CAF / MSA",
            "/statistiques/": "Statistiques des échanges",
            "/connexion/": "Se connecter",
            "/connexion/demo/": "Connexion de démonstration",
            "/agents/connexion/": "Connexion des agents",
            "/api/v1/errors/": "Codes d'erreur",
        }
        for path, heading in pages.items():
            page.goto(live_server.url + path)
            expect(page.get_by_role("heading", level=1)).to_have_text(heading)
            assert accessibility_problems(page) == [], path

        response = page.goto(live_server.url + "/nulle-part/")

        assert response is not None and response.status == 404
        expect(page.get_by_role("heading", level=1)).to_have_text("Page introuvable")
        # The browser reports the 404 status of the page itself as a console error; nothing else may:
        # a Content-Security-Policy violation would be one.
        assert [error for error in script_errors if "status of 404" not in error] == []

    def test_the_api_docs_render_from_our_own_files_under_the_policy(
        self, page: Page, live_server: LiveServer, script_errors: list[str]
    ) -> None:
        outside: list[str] = []
        page.on(
            "request",
            lambda request: outside.append(request.url) if not request.url.startswith(live_server.url) else None,
        )

        page.goto(live_server.url + "/api/v1/docs/")

        expect(page.locator(".swagger-ui .info .title")).to_contain_text("Provide-it-once gateway API")
        expect(page.locator(".opblock-summary-path").first).to_be_visible()
        assert outside == [] and script_errors == []


def horizontal_overflow(page: Page) -> int:
    """How many pixels the page is wider than the window: a phone user would have to scroll sideways."""
    return int(page.evaluate("() => document.documentElement.scrollWidth - document.documentElement.clientWidth"))


@pytest.mark.usefixtures("catalogue")
class TestPhoneWidth:
    def test_no_public_or_citizen_page_is_wider_than_a_phone(
        self, page: Page, live_server: LiveServer, script_errors: list[str]
    ) -> None:
        page.set_viewport_size(PHONE)
        public = ["/", "/catalogue/", "/catalogue/cnaf.quotient-familial/", "/statistiques/", "/connexion/"]
        public += ["/connexion/demo/", "/agents/connexion/", "/api/v1/errors/", "/api/v1/errors/consent_revoked"]
        for path in public:
            page.goto(live_server.url + path)
            assert horizontal_overflow(page) == 0, path

        page.goto(live_server.url + "/mes-consentements/historique/")
        demo_login(page, index=0, level="eidas2")
        expect(page.get_by_role("heading", level=1)).to_have_text("Historique de mes données")
        # The offline verification command is one long line: it wraps instead of widening the page.
        assert horizontal_overflow(page) == 0
        page.goto(live_server.url + "/mes-consentements/")
        assert horizontal_overflow(page) == 0
        assert script_errors == []
