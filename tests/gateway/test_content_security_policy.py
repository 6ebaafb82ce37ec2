"""The Content-Security-Policy of every public page: nothing runs or styles a page but our own files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

pytestmark = pytest.mark.django_db

PUBLIC_PAGES = [
    "/",
    "/catalogue/",
    "/catalogue/cnaf.quotient-familial/",
    "/statistiques/",
    "/connexion/",
    "/connexion/demo/",
    "/agents/connexion/",
    "/api/v1/errors/",
    "/api/v1/errors/result_gone",
    "/api/v1/docs/",
    "/nulle-part/",
]
BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def directives(header: str) -> dict[str, list[str]]:
    parsed = {}
    for directive in header.split(";"):
        name, *values = directive.split()
        parsed[name] = values
    return parsed


@pytest.mark.usefixtures("catalogue")
@pytest.mark.parametrize("path", PUBLIC_PAGES)
@pytest.mark.parametrize("language", ["fr", "en"])
def test_every_public_page_allows_only_our_own_scripts_and_styles(client: Client, path: str, language: str) -> None:
    response = client.get(path, headers={"Accept": BROWSER, "Accept-Language": language})

    assert response.status_code in {200, 404}, path
    assert response["Content-Type"].startswith("text/html")
    policy = directives(response["Content-Security-Policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    html = response.content.decode()
    # No inline script, style block, style attribute or event handler: each would be refused.
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == []
    assert "<style" not in html
    assert re.findall(r"\sstyle=\"", html) == []
    assert re.findall(r"\son[a-z]+=\"", html) == []
    # Every script and stylesheet is ours: a relative address on this server.
    for address in re.findall(r"<(?:script|link)[^>]*\b(?:src|href)=\"([^\"]+)\"", html):
        assert address.startswith("/"), (path, address)


def test_the_api_docs_start_up_script_is_a_file_of_its_own(client: Client) -> None:
    page = client.get("/api/v1/docs/").content.decode()
    (script_url,) = re.findall(r"<script src=\"([^\"]*script[^\"]*)\"", page)

    script = client.get(script_url.replace("&amp;", "&"))

    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "SwaggerUIBundle" in script.content.decode()


def test_no_template_of_the_project_carries_inline_style_or_script() -> None:
    # The policy blocks both: a page that relies on them breaks silently in the browser.
    root = Path(settings.BASE_DIR)
    templates = [
        path
        for path in root.glob("*/templates/**/*.html")
        if not {".venv", "node_modules", "staticfiles"} & set(path.relative_to(root).parts)
    ]
    assert templates
    offending = [
        str(path.relative_to(root))
        for path in templates
        if re.search(r"\sstyle=|<script(?![^>]*\ssrc=)[^>]*>|\son[a-z]+=\"", path.read_text())
    ]
    assert offending == []
