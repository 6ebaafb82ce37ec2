"""What the API takes is what its schema says: no empty value passed off as a missing one, no
unknown parameter ignored, no `?format=` that answers 404, a problem's own members never replaced."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from core import errors

pytestmark = pytest.mark.django_db


class TestQueryParameters:
    @pytest.mark.parametrize("query", ["status=", "page_size=", "cursor="])
    def test_an_empty_value_is_refused_not_ignored(self, client: Client, mairie_caller: Any, query: str) -> None:
        response = client.get(f"/api/v1/consents?{query}", headers=mairie_caller.headers)

        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert query.rstrip("=") in response.json()["errors"]

    def test_a_parameter_the_operation_does_not_know_is_refused_not_ignored(
        self, client: Client, mairie_caller: Any
    ) -> None:
        # A misspelt filter would otherwise answer every consent as if it had filtered them.
        response = client.get("/api/v1/consents?stauts=revoked", headers=mairie_caller.headers)

        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert response.json()["errors"]["stauts"][0]["code"] == "unknown"

    def test_an_unknown_parameter_of_the_statistics_is_refused(self, client: Client) -> None:
        response = client.get("/api/v1/stats/exchanges?from=2026-01-01")

        assert response.status_code == 400
        assert "from" in response.json()["errors"]

    def test_an_empty_date_of_the_statistics_is_refused(self, client: Client) -> None:
        response = client.get("/api/v1/stats/exchanges?until=")

        assert response.status_code == 400
        assert "until" in response.json()["errors"]

    def test_a_cursor_the_list_did_not_hand_out_is_a_bad_parameter(self, client: Client, mairie_caller: Any) -> None:
        response = client.get("/api/v1/consents?cursor=0", headers=mairie_caller.headers)

        assert response.status_code == 400
        assert response.json()["errors"]["cursor"][0]["code"] == "invalid"

    def test_a_page_size_outside_its_bounds_is_refused(self, client: Client, mairie_caller: Any) -> None:
        for size in ("0", "201"):
            response = client.get(f"/api/v1/consents?page_size={size}", headers=mairie_caller.headers)
            assert response.status_code == 400

    @pytest.mark.parametrize("path", ["/api/v1/audit/public-key", "/api/v1/audit/verifier.pyz"])
    def test_a_format_parameter_is_no_content_negotiation(self, client: Client, path: str) -> None:
        assert client.get(f"{path}?format=AAA").status_code == 200


def test_a_problems_extra_members_never_replace_its_own() -> None:
    problem = errors.InvalidTransition("No.", extra={"status": "revoked", "code": "x", "consent_status": "revoked"})

    body = problem.problem()

    assert (body["status"], body["code"], body["consent_status"]) == (409, "invalid_transition", "revoked")


class TestJsonBodies:
    @pytest.mark.parametrize(
        ("field", "value"), [("reference", 0), ("duration_days", "90"), ("duration_days", 90.0), ("max_uses", True)]
    )
    def test_a_value_of_another_json_type_is_refused_not_converted(
        self, client: Client, mairie_caller: Any, field: str, value: object
    ) -> None:
        body = {
            "attestation_types": ["cnaf.quotient-familial"],
            "purpose": {"code": "tarification-sociale"},
            "duration_days": 90,
            field: value,
        }

        response = client.post(
            "/api/v1/consent-requests", body, content_type="application/json", headers=mairie_caller.headers
        )

        assert response.status_code == 400, response.content
        assert field in response.json()["errors"]


class TestOneLanguageOneShape:
    """The API's texts for machines are English whatever Accept-Language says, and every operation
    gives field errors in one shape: {"field": [{"code", "message"}]}."""

    def test_a_field_message_is_english_even_for_a_french_client(self, client: Client, mairie_caller: Any) -> None:
        response = client.post(
            "/api/v1/consent-requests",
            {},
            content_type="application/json",
            headers={**mairie_caller.headers, "Accept-Language": "fr"},
        )

        assert response.status_code == 400
        required = response.json()["errors"]["attestation_types"][0]
        assert required == {"code": "required", "message": "This field is required."}

    def test_a_query_parameter_s_error_has_the_same_shape(self, client: Client, mairie_caller: Any) -> None:
        response = client.get(
            "/api/v1/attestations/cnaf.quotient-familial?consent=abc",
            headers={**mairie_caller.headers, "Accept-Language": "fr-FR,fr;q=0.9"},
        )

        assert response.status_code == 400
        assert response.json()["errors"]["consent"] == [{"code": "invalid", "message": "Must be a valid UUID."}]

    def test_the_error_catalogue_s_page_still_speaks_the_reader_s_language(self, client: Client) -> None:
        response = client.get("/api/v1/errors/", headers={"Accept": "text/html", "Accept-Language": "fr"})

        assert response.status_code == 200
        assert response["Content-Language"] == "fr"
