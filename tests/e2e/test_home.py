from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


class TestHomePage:
    def test_it_explains_the_service_and_switches_to_english(
        self, page: Page, live_server: LiveServer, script_errors: list[str]
    ) -> None:
        page.goto(live_server.url + "/")
        expect(page.get_by_role("heading", level=1)).to_have_text("Dites-le-nous une fois")
        # The DSFR stylesheet is served and applied: the header uses the DSFR layout.
        assert page.evaluate("getComputedStyle(document.querySelector('.fr-header')).display") != "inline"
        tools = page.locator(".fr-header__tools-links")
        tools.locator(".fr-translate__btn").click()
        tools.get_by_role("button", name="English").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Provide it once")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        assert script_errors == []
