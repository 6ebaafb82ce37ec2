"""Every public page in French by default and in English when the visitor asks for it."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.utils import translation

from consent.models import Consent

pytestmark = pytest.mark.usefixtures("catalogue")

# path -> (French h1, English h1)
PAGES = {
    "/": ("Dites-le-nous une fois", "Provide it once"),
    "/catalogue/": ("Catalogue des attestations", "Attestation catalogue"),
    "/catalogue/cnaf.quotient-familial/": ("Quotient familial CAF / MSA", "Family quotient (CAF / MSA)"),
    "/statistiques/": ("Statistiques des échanges", "Exchange statistics"),
    "/connexion/": ("Se connecter", "Log in"),
    "/connexion/demo/": ("Connexion de démonstration", "Demo login"),
    "/agents/connexion/": ("Connexion des agents", "Agents' login"),
    "/mentions-legales/": ("Mentions légales", "Legal notice"),
    "/donnees-personnelles/": ("Données personnelles", "Personal data"),
    "/accessibilite/": ("Déclaration d'accessibilité", "Accessibility statement"),
    "/aide/": ("Aide et questions fréquentes", "Help and frequent questions"),
    "/nulle-part/": ("Page introuvable", "Page not found"),
}


def heading(html: str) -> str:
    match = re.search(r"<h1[^>]*>\s*(.*?)\s*</h1>", html, flags=re.S)
    assert match is not None
    return match.group(1)


class TestLanguages:
    @pytest.mark.parametrize("path", PAGES)
    def test_a_page_is_french_by_default(self, client: Client, path: str) -> None:
        html = client.get(path).content.decode()

        assert '<html lang="fr"' in html
        assert heading(html) == PAGES[path][0]
        assert "Menu principal" in html and "Main menu" not in html

    @pytest.mark.parametrize("path", PAGES)
    def test_a_page_is_english_when_asked(self, client: Client, path: str) -> None:
        html = client.get(path, headers={"Accept-Language": "en"}).content.decode()

        assert '<html lang="en"' in html
        assert heading(html) == PAGES[path][1]
        assert "Main menu" in html and "Menu principal" not in html

    def test_every_page_s_footer_links_the_pages_every_public_service_has(self, client: Client) -> None:
        html = client.get("/").content.decode()
        for path in ("/accessibilite/", "/mentions-legales/", "/donnees-personnelles/", "/aide/"):
            assert f'href="{path}"' in html
        assert "Accessibilité : partiellement conforme" in html

    def test_browsers_find_the_favicon(self, client: Client) -> None:
        response = client.get("/favicon.ico")
        assert response.status_code == 301 and response["Location"].endswith("/favicon.ico")

    def test_the_language_switch_remembers_the_choice(self, client: Client) -> None:
        response = client.post("/i18n/setlang/", {"language": "en", "next": "/catalogue/"})

        assert response.status_code == 302 and response["Location"] == "/catalogue/"
        assert heading(client.get("/catalogue/").content.decode()) == "Attestation catalogue"
        client.post("/i18n/setlang/", {"language": "fr", "next": "/"})
        assert heading(client.get("/catalogue/").content.decode()) == "Catalogue des attestations"

    def test_a_consent_status_reads_in_the_page_language(self) -> None:
        with translation.override("fr"):
            assert str(Consent.Status.REVOKED.label) == "Retiré"
        with translation.override("en"):
            assert str(Consent.Status.REVOKED.label) == "Withdrawn"
