"""The public pages' small things: the home page's title says the site's name once, the
accessibility statement gives a way to write, and the login buttons' addresses, followed as
links, lead to the login pages instead of an empty 405."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from gateway.checks import operator_published

pytestmark = pytest.mark.django_db


def title(page: str) -> str:
    match = re.search(r"<title>\s*(.*?)\s*</title>", page, flags=re.DOTALL)
    assert match, "the page has no title"
    return match.group(1)


def test_the_home_page_is_titled_with_the_site_s_name_once(client: Client) -> None:
    assert title(client.get("/").content.decode()) == "Dites-le-nous une fois"
    assert title(client.get("/", headers={"Accept-Language": "en"}).content.decode()) == "Provide it once"


def test_the_accessibility_statement_gives_the_contact_address(client: Client, settings: Any) -> None:
    settings.GATEWAY_CONTACT_EMAIL = "contact@passerelle.example.gouv.fr"
    page = client.get("/accessibilite/").content.decode()
    assert 'href="mailto:contact@passerelle.example.gouv.fr"' in page
    # The legal notice gives the same one.
    assert 'href="mailto:contact@passerelle.example.gouv.fr"' in client.get("/mentions-legales/").content.decode()


def test_without_a_contact_address_the_statement_says_it_is_not_published_and_the_deploy_check_warns(
    client: Client, settings: Any
) -> None:
    settings.GATEWAY_CONTACT_EMAIL = ""
    page = client.get("/accessibilite/", headers={"Accept-Language": "en"}).content.decode()
    assert "Not published yet by the administration running this instance." in page
    assert "GATEWAY_CONTACT_EMAIL" not in page  # a setting's name is the operator's business
    warnings = operator_published(None)
    assert "gateway.W001" in {w.id for w in warnings} and "GATEWAY_CONTACT_EMAIL" in str(warnings)


def test_the_franceconnect_button_s_address_followed_as_a_link_leads_to_the_login_page(client: Client) -> None:
    response = client.get("/connexion/franceconnect/", {"next": "/mes-consentements/", "level": "eidas2"})
    assert response.status_code == 302
    target = urlsplit(response["Location"])
    assert target.path == "/connexion/"
    assert parse_qs(target.query) == {"next": ["/mes-consentements/"], "level": ["eidas2"]}
    # Nowhere else: an outside address is not followed.
    outside = client.get("/connexion/franceconnect/", {"next": "https://evil.example/"})
    assert parse_qs(urlsplit(outside["Location"]).query)["next"] == ["/mes-consentements/"]


def test_the_proconnect_button_s_address_followed_as_a_link_leads_to_the_agents_login_page(client: Client) -> None:
    response = client.get("/agents/connexion/proconnect/")
    assert response.status_code == 302
    assert urlsplit(response["Location"]).path == "/agents/connexion/"
