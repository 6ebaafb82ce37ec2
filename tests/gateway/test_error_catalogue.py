"""/api/v1/errors/: the catalogue every problem's `type` points to, served by the gateway itself."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.test import Client

from core import errors
from core.errors import CATALOGUE, GatewayError

pytestmark = pytest.mark.django_db

APPS = ["core", "audit", "providers", "consent", "gateway"]


def every_error_class() -> set[type[GatewayError]]:
    """Every GatewayError subclass the code defines, once each app's every module is imported."""
    for app in APPS:
        package = importlib.import_module(app)
        for module in pkgutil.walk_packages(package.__path__, f"{app}."):
            if ".migrations." not in module.name and not module.name.endswith(".__main__"):
                importlib.import_module(module.name)
    found: set[type[GatewayError]] = {GatewayError}
    pending = [GatewayError]
    while pending:
        for subclass in pending.pop().__subclasses__():
            # A base that names no code of its own (DpopChallenge) only shares behaviour.
            if subclass.__module__.split(".")[0] in APPS and "code" in vars(subclass):
                found.add(subclass)
            pending.append(subclass)
    return found


class TestCatalogue:
    def test_every_error_the_code_can_raise_is_in_it_once(self) -> None:
        assert every_error_class() == set(CATALOGUE)
        codes = [error.code for error in CATALOGUE]
        assert len(codes) == len(set(codes))
        assert "result_gone" in codes and "payload_too_large" in codes and "not_acceptable" in codes

    def test_docs_errors_md_lists_every_code_and_no_other(self) -> None:
        text = (Path(settings.BASE_DIR) / "docs" / "errors.md").read_text()
        problems_section = text.split("## The OAuth endpoints")[0]
        table_codes = set(
            re.findall(r"`([a-z_]+)`", "\n".join(re.findall(r"^\| (.*?) \| \d{3} \|", problems_section, re.M)))
        )
        assert table_codes == {error.code for error in CATALOGUE}

    def test_it_answers_json_with_every_code(self, client: Client) -> None:
        response = client.get("/api/v1/errors/")

        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        entries = response.json()["errors"]
        assert [entry["code"] for entry in entries] == [error.code for error in CATALOGUE]
        gone = next(entry for entry in entries if entry["code"] == "result_gone")
        assert gone["status"] == 410
        assert gone["type"] == f"{settings.GATEWAY_BASE_URL}/api/v1/errors/result_gone"
        assert gone["description"]

    def test_the_type_of_a_real_problem_leads_to_its_entry(self, client: Client) -> None:
        problem = client.get("/api/v1/exchanges/00000000-0000-0000-0000-000000000000").json()
        assert problem["code"] == "authentication_required"
        assert problem["type"].startswith(settings.GATEWAY_BASE_URL + "/api/v1/errors/")

        entry = client.get(urlsplit(problem["type"]).path)

        assert entry.status_code == 200
        assert entry.json()["code"] == "authentication_required"
        assert entry.json()["status"] == 401
        assert entry.json()["type"] == problem["type"]

    def test_it_is_a_page_for_browsers_in_french_and_english(self, client: Client) -> None:
        browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
        french = client.get("/api/v1/errors/", headers={"Accept": browser})
        english = client.get("/api/v1/errors/", headers={"Accept": browser, "Accept-Language": "en"})

        assert french.status_code == 200
        assert french["Content-Type"].startswith("text/html")
        assert 'id="result_gone"' in french.content.decode()
        assert "Codes d&#x27;erreur" in french.content.decode() or "Codes d'erreur" in french.content.decode()
        assert "Error codes" in english.content.decode()
        single = client.get("/api/v1/errors/consent_paused", headers={"Accept": browser, "Accept-Language": "en"})
        assert single.status_code == 200
        assert "The citizen paused the consent" in single.content.decode()

    def test_an_unknown_code_is_not_found(self, client: Client) -> None:
        response = client.get("/api/v1/errors/no_such_code")

        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"
        page = client.get("/api/v1/errors/no_such_code", headers={"Accept": "text/html"})
        assert page.status_code == 404
        assert page["Content-Type"].startswith("text/html")


def test_every_problem_type_is_an_address_of_the_catalogue() -> None:
    for error in CATALOGUE:
        assert error().problem()["type"] == errors.problem_type(error.code)
        assert urlsplit(errors.problem_type(error.code)).path == f"/api/v1/errors/{error.code}"
