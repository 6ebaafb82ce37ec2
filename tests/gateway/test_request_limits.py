"""Limits on a request's size, answered by Django in problem+json before gunicorn's own (HTML)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from django.conf import settings
from django.test import Client

from tests.processes import Gunicorn

API = "/api/v1/exchanges/00000000-0000-0000-0000-000000000000"


def assert_problem(response: requests.Response | object, status: int, code: str) -> None:
    assert response.status_code == status  # type: ignore[attr-defined]
    assert response.headers["Content-Type"] == "application/problem+json"  # type: ignore[attr-defined]
    assert response.json()["code"] == code  # type: ignore[attr-defined]


class TestDjangoLimits:
    def test_a_long_address_is_414(self, client: Client) -> None:
        response = client.get(API, {"q": "x" * settings.REQUEST_MAX_URL_LENGTH})

        assert_problem(response, 414, "uri_too_long")

    def test_a_long_address_of_a_page_is_an_error_page(self, client: Client) -> None:
        response = client.get("/catalogue/", {"q": "x" * settings.REQUEST_MAX_URL_LENGTH})

        assert response.status_code == 414
        assert response["Content-Type"].startswith("text/html")

    def test_too_many_headers_is_431(self, client: Client) -> None:
        headers = {f"X-Filler-{i}": "1" for i in range(settings.REQUEST_MAX_HEADERS + 1)}

        assert_problem(client.get(API, headers=headers), 431, "headers_too_large")

    def test_a_long_header_is_431(self, client: Client) -> None:
        headers = {"X-Filler": "x" * (settings.REQUEST_MAX_HEADER_BYTES + 1)}

        assert_problem(client.get(API, headers=headers), 431, "headers_too_large")

    def test_a_request_within_the_limits_goes_through(self, client: Client) -> None:
        headers = {f"X-Filler-{i}": "x" * 100 for i in range(50)}

        assert_problem(client.get(API, {"q": "x" * 3000}, headers=headers), 401, "authentication_required")


@pytest.fixture(scope="module")
def gunicorn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    server = Gunicorn(env=os.environ, cwd=Path(settings.BASE_DIR), log=tmp_path_factory.mktemp("gunicorn") / "log")
    yield server
    server.stop()


@pytest.mark.server
class TestUnderGunicorn:
    """What a client meets in production: gunicorn with gunicorn.conf.py in front of Django."""

    def test_django_answers_the_limits_before_gunicorn(self, gunicorn: Gunicorn) -> None:
        url = gunicorn.url + API
        assert_problem(requests.get(url, params={"q": "x" * 5000}, timeout=10), 414, "uri_too_long")
        many = {f"X-Filler-{i}": "1" for i in range(150)}
        assert_problem(requests.get(url, headers=many, timeout=10), 431, "headers_too_large")
        assert_problem(requests.get(url, headers={"X-Filler": "x" * 12000}, timeout=10), 431, "headers_too_large")
        body = b'{"attestation_type": "' + b"x" * (10 * 1024 * 1024) + b'"}'
        large = requests.post(
            gunicorn.url + "/api/v1/exchanges", data=body, headers={"Content-Type": "application/json"}, timeout=30
        )
        assert_problem(large, 413, "payload_too_large")

    def test_past_its_own_limits_gunicorn_answers_itself_as_documented(self, gunicorn: Gunicorn) -> None:
        # docs/operations.md, "Limits and errors": gunicorn's own short HTML page, not problem+json.
        long_line = requests.get(gunicorn.url + API, params={"q": "x" * 9000}, timeout=10)
        many = requests.get(gunicorn.url + API, headers={f"X-Filler-{i}": "1" for i in range(250)}, timeout=10)
        long_header = requests.get(gunicorn.url + API, headers={"X-Filler": "x" * 20000}, timeout=10)

        assert (long_line.status_code, many.status_code, long_header.status_code) == (414, 431, 431)
        for response in (long_line, many, long_header):
            assert response.headers["Content-Type"] == "text/html"
