from __future__ import annotations

import io
import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core import errors

pytestmark = pytest.mark.django_db


class RaisesConsentPaused(APIView):
    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    def get(self, request: object) -> Response:
        raise errors.ConsentPaused("The citizen paused this consent on the dashboard.")


class RaisesUnexpected(APIView):
    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    def get(self, request: object) -> Response:
        raise RuntimeError("secret internals: Jeanne Dupont born 1990-01-01")


class EchoesJson(APIView):
    authentication_classes: list[type] = []
    permission_classes: list[type] = []

    def post(self, request: Request) -> Response:
        return Response({"received": request.data})


def crashes(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("secret internals: Jeanne Dupont born 1990-01-01")


handler500 = "gateway.views.handler500"
urlpatterns = [
    path("api/t/crash", crashes),
    path("t/paused", RaisesConsentPaused.as_view()),
    path("t/boom", RaisesUnexpected.as_view()),
    path("t/echo", EchoesJson.as_view()),
]


@pytest.fixture
def routes(settings: object) -> None:
    settings.ROOT_URLCONF = __name__  # type: ignore[attr-defined]


class TestProblemDetails:
    def test_it_renders_a_gateway_error_as_problem_json_with_its_stable_code(
        self, client: Client, routes: None
    ) -> None:
        response = client.get("/t/paused")
        assert response.status_code == 403
        assert response["Content-Type"] == "application/problem+json"
        body = response.json()
        assert body == {
            "type": f"{settings.GATEWAY_BASE_URL}/api/v1/errors/consent_paused",
            "title": "The citizen paused this consent",
            "status": 403,
            "detail": "The citizen paused this consent on the dashboard.",
            "code": "consent_paused",
            "instance": "/t/paused",
        }

    def test_it_hides_internals_of_an_unexpected_error(
        self, client: Client, routes: None, caplog: pytest.LogCaptureFixture
    ) -> None:
        response = client.get("/t/boom")
        assert response.status_code == 500
        body = response.json()
        assert body["code"] == "internal_error"
        assert "Jeanne" not in response.content.decode() and "Traceback" not in response.content.decode()
        # The log names the exception type, never its message (which may carry personal data).
        assert "Unhandled RuntimeError at " in caplog.text
        assert "Jeanne" not in caplog.text

    def test_it_answers_malformed_json_with_validation_error(self, client: Client, routes: None) -> None:
        response = client.post("/t/echo", data="{not json", content_type="application/json")
        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"

    def test_it_answers_a_non_json_body_with_unsupported_media_type(self, client: Client, routes: None) -> None:
        response = client.post("/t/echo", data="a=1", content_type="application/x-www-form-urlencoded")
        assert response.status_code == 415
        assert response.json()["code"] == "unsupported_media_type"

    def test_it_answers_an_unknown_api_address_with_a_problem(self, client: Client) -> None:
        response = client.get("/api/v1/nothing-here")
        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"

    @pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/consents/not-a-uuid", "/oauth/nothing/"])
    def test_it_answers_an_unknown_api_address_with_a_problem_in_debug_too(
        self, client: Client, settings: Any, path: str
    ) -> None:
        # `make run` runs in DEBUG, where Django's own HTML page would answer before handler404.
        settings.DEBUG = True

        response = client.get(path)

        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"

    def test_a_page_in_debug_keeps_django_s_page(self, client: Client, settings: Any) -> None:
        settings.DEBUG = True

        response = client.get("/nulle-part/")

        assert response.status_code == 404 and response["Content-Type"].startswith("text/html")

    def test_it_answers_an_unknown_page_with_an_html_page(self, client: Client) -> None:
        response = client.get("/nulle-part/")
        assert response.status_code == 404
        assert response["Content-Type"].startswith("text/html")
        assert "Page introuvable" in response.content.decode()


class TestCorrelationId:
    def test_it_creates_a_correlation_id_when_none_is_given(self, client: Client) -> None:
        response = client.get("/healthz")
        assert len(response["X-Correlation-Id"]) == 32
        uuid.UUID(response["X-Correlation-Id"])

    def test_it_echoes_a_well_formed_correlation_id_on_an_error(self, client: Client, routes: None) -> None:
        response = client.get("/t/paused", headers={"X-Correlation-Id": "mairie-req-2026-0042"})
        assert response["X-Correlation-Id"] == "mairie-req-2026-0042"

    def test_it_replaces_a_correlation_id_that_could_inject_headers_or_logs(self, client: Client) -> None:
        response = client.get("/healthz", headers={"X-Correlation-Id": "abc\r\nSet-Cookie: x=1"})
        assert response["X-Correlation-Id"] != "abc\r\nSet-Cookie: x=1"
        assert len(response["X-Correlation-Id"]) == 32


class TestHomePage:
    def test_it_says_what_the_service_is_in_french_and_english(self, client: Client) -> None:
        french = client.get("/")
        assert french.status_code == 200
        assert "Dites-le-nous une fois" in french.content.decode()
        assert 'class="fr-header"' in french.content.decode()
        english = client.get("/", headers={"Accept-Language": "en"})
        assert "Provide it once" in english.content.decode()
        assert "You no longer hand over a document" in english.content.decode()

    def test_it_serves_the_openapi_schema_and_docs(self, client: Client) -> None:
        schema = client.get("/api/v1/schema/")
        assert schema.status_code == 200
        assert b"openapi: 3" in schema.content
        assert client.get("/api/v1/docs/").status_code == 200


class TestLogs:
    def test_it_logs_an_exception_without_its_message_or_traceback(self) -> None:
        import logging

        from core.logfilters import RedactExceptions

        try:
            raise ValueError("Jeanne Dupont, née le 1990-01-01")
        except ValueError:
            record = logging.LogRecord(
                "django.request", logging.ERROR, __file__, 1, "Internal Server Error: %s", ("/x",), None
            )
            import sys

            record.exc_info = sys.exc_info()
        assert RedactExceptions().filter(record) is True
        assert record.exc_info is None
        text = logging.Formatter().format(record)
        assert "Jeanne" not in text
        assert text.startswith("Internal Server Error: /x [ValueError at ")


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """What the configured console handler writes (settings.LOGGING), filters and format included."""
    (console,) = [h for h in logging.getLogger().handlers if isinstance(h, logging.StreamHandler) and h.filters]
    stream = io.StringIO()
    previous = console.setStream(stream)
    try:
        yield stream
    finally:
        console.setStream(previous)  # type: ignore[arg-type]


class TestInternalErrors:
    @pytest.mark.parametrize("url", ["/t/boom", "/api/t/crash"])
    def test_a_500_names_its_correlation_id_in_the_body_and_on_the_log_line(
        self, routes: None, log_lines: io.StringIO, url: str
    ) -> None:
        client = Client(raise_request_exception=False)

        response = client.get(url, headers={"X-Correlation-Id": "mairie-req-2026-0500"})

        assert response.status_code == 500
        assert response["Content-Type"] == "application/problem+json"
        body = response.json()
        assert body["code"] == "internal_error"
        assert body["correlation_id"] == "mairie-req-2026-0500"
        assert "mairie-req-2026-0500" in body["detail"]
        assert "Jeanne" not in response.content.decode()
        error_lines = [line for line in log_lines.getvalue().splitlines() if " ERROR " in line]
        assert error_lines and all("[mairie-req-2026-0500]" in line for line in error_lines)
        assert "Jeanne" not in log_lines.getvalue() and "1990" not in log_lines.getvalue()


class TestHostileBodies:
    def test_it_answers_json_nested_too_deeply_with_validation_error(self, client: Client, routes: None) -> None:
        response = client.post("/t/echo", data="[" * 100_000 + "]" * 100_000, content_type="application/json")

        assert response.status_code == 400
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "validation_error"

    def test_it_refuses_a_ten_megabyte_body_before_reading_it(self, client: Client) -> None:
        body = '{"attestation_type": "' + "x" * (10 * 1024 * 1024) + '"}'

        response = client.post("/api/v1/exchanges", data=body, content_type="application/json")

        assert response.status_code == 413
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "payload_too_large"
        assert response["X-Correlation-Id"]

    def test_it_answers_a_too_large_form_with_a_page(self, client: Client) -> None:
        response = client.post("/", data={"a": "x" * (2 * 1024 * 1024)})

        assert response.status_code == 413
        assert response["Content-Type"].startswith("text/html")

    def test_it_gives_an_unacceptable_accept_header_its_own_code(self, client: Client, routes: None) -> None:
        response = client.get("/t/paused", headers={"Accept": "text/csv"})

        assert response.status_code == 406
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "not_acceptable"
