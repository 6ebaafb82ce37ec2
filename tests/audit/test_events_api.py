"""GET /api/v1/audit/events: auditors only (scope and client), recorded, paginated, exported."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from audit.models import AuditEvent
from audit.sealer import log_seal, log_verifier_key
from audit.tlog.export import verify_export
from providers.models import Organisation

ALICE_REF = "a" * 64
URL = "/api/v1/audit/events"


@pytest.fixture
def trail(record: Callable[..., Any]) -> None:
    for i in range(5):
        record(citizen_ref=ALICE_REF if i % 2 == 0 else "b" * 64, purpose="instruction")
    assert log_seal() is not None


@pytest.fixture
def inspector(supervisor: Organisation, make_caller: Callable[..., Any]) -> Any:
    """The supervisory body's client, registered for audit access."""
    return make_caller(supervisor, "audit:read", allowed_scopes="audit:read")


def _auditor_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(type__startswith="auditor.").order_by("id"))


@pytest.mark.usefixtures("trail")
class TestAccess:
    def test_a_consumer_token_without_the_scope_is_refused(self, client: Client, mairie_caller: Any) -> None:
        response = client.get(URL, headers=mairie_caller.headers)

        assert response.status_code == 403
        assert response.json()["code"] == "scope_missing"
        assert _auditor_events() == []

    def test_a_token_with_the_scope_from_a_client_not_registered_for_it_is_refused(
        self, client: Client, mairie: Organisation, make_caller: Callable[..., Any]
    ) -> None:
        rogue = make_caller(mairie, "audit:read")  # its ApiClient only allows consents:*

        response = client.get(URL, headers=rogue.headers)

        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
        assert _auditor_events() == []

    def test_a_client_registered_for_it_outside_a_supervisory_body_is_refused(
        self, client: Client, dgfip: Organisation, make_caller: Callable[..., Any]
    ) -> None:
        # Like the auditor role: an operator registering the scope for an exchanging organisation
        # gives it nothing, whether the token was issued before or not.
        provider = make_caller(dgfip, "audit:read", allowed_scopes="audit:read")

        response = client.get(URL, headers=provider.headers)

        assert response.status_code == 403
        assert response.json()["code"] == "permission_denied"
        assert _auditor_events() == []

    def test_an_organisation_switched_off_loses_access_on_its_next_request(
        self, client: Client, inspector: Any, supervisor: Organisation
    ) -> None:
        assert client.get(URL, headers=inspector.headers).status_code == 200
        Organisation.objects.filter(pk=supervisor.pk).update(active=False)
        searches = len(_auditor_events())

        response = client.get(URL, headers=inspector.headers)

        assert response.status_code == 401
        assert response.json()["code"] == "authentication_required"
        assert len(_auditor_events()) == searches

    def test_no_token_is_401(self, client: Client) -> None:
        assert client.get(URL).status_code == 401


@pytest.mark.usefixtures("trail")
class TestSearch:
    def test_it_filters_and_records_the_search(self, client: Client, inspector: Any) -> None:
        response = client.get(URL, {"type": "exchange.succeeded", "limit": 2}, headers=inspector.headers)

        assert response.status_code == 200
        body = response.json()
        assert [row["event"]["id"] for row in body["results"]] == sorted(
            [row["event"]["id"] for row in body["results"]], reverse=True
        )
        assert len(body["results"]) == 2 and body["next_cursor"]
        assert body["results"][0]["leaf_index"] == 4
        searched = _auditor_events()
        assert len(searched) == 1 and searched[0].type == "auditor.searched"
        assert searched[0].actor == inspector.application.client_id
        assert searched[0].detail == {"type": "exchange.succeeded"}

        rest = client.get(URL, {"type": "exchange.succeeded", "cursor": body["next_cursor"]}, headers=inspector.headers)
        assert len(rest.json()["results"]) == 3
        assert rest.json()["next_cursor"] is None

    @pytest.mark.parametrize("method", ["head", "options"])
    def test_a_safe_method_other_than_get_neither_searches_nor_records(
        self, client: Client, inspector: Any, method: str
    ) -> None:
        response = getattr(client, method)(URL, {"type": "exchange.succeeded"}, headers=inspector.headers)

        assert response.status_code == 405
        assert response["Allow"] == "GET"
        assert _auditor_events() == []

    def test_a_citizen_search_needs_a_justification(self, client: Client, inspector: Any) -> None:
        response = client.get(URL, {"citizen_ref": ALICE_REF}, headers=inspector.headers)

        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert "justification" in response.json()["errors"]
        assert _auditor_events() == []

    def test_a_justified_citizen_search_is_recorded_against_the_citizen(self, client: Client, inspector: Any) -> None:
        response = client.get(
            URL, {"citizen_ref": ALICE_REF, "justification": "Plainte CNIL n° 2026-118"}, headers=inspector.headers
        )

        assert response.status_code == 200
        # The search itself is about alice, so it is the newest event of her trail.
        types = [row["event"]["type"] for row in response.json()["results"]]
        assert types == ["auditor.searched"] + ["exchange.succeeded"] * 3
        event = _auditor_events()[0]
        assert event.citizen_ref == ALICE_REF
        assert event.detail["justification"] == "Plainte CNIL n° 2026-118"

    @pytest.mark.parametrize(
        "query",
        [{"consumer": "123"}, {"type": "nope"}, {"cursor": "zzz"}, {"from": "hier"}, {"to": "9999-12-31T00:00:00Z"}],
    )
    def test_bad_filters_are_400_and_change_nothing(
        self, client: Client, inspector: Any, query: dict[str, str]
    ) -> None:
        events = AuditEvent.objects.count()

        response = client.get(URL, query, headers=inspector.headers)

        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        # A bad cursor is only detected after the search was recorded: it is still a search.
        assert AuditEvent.objects.count() == events + (1 if "cursor" in query else 0)


@pytest.mark.usefixtures("trail")
class TestExports:
    def test_csv_export_is_recorded(self, client: Client, inspector: Any) -> None:
        response = client.get(URL, {"format": "csv", "consumer": "21690123100011"}, headers=inspector.headers)

        assert response.status_code == 200
        text = b"".join(response.streaming_content).decode()
        lines = text.strip().splitlines()
        assert lines[0].startswith("leaf_index,id,type,occurred_at")
        assert len(lines) == 6
        assert _auditor_events()[0].type == "auditor.exported"
        assert _auditor_events()[0].detail["format"] == "csv"

    def test_jsonl_export_verifies_offline(self, client: Client, inspector: Any) -> None:
        response = client.get(URL, {"format": "jsonl"}, headers=inspector.headers)

        assert response.status_code == 200
        lines = b"".join(response.streaming_content).decode().splitlines(keepends=True)
        report = verify_export(lines, log_verifier_key())
        assert report.tree_size == 5
        assert json.loads(lines[0])["format"] == "gateway-audit-export/1"
        assert _auditor_events()[0].detail == {"format": "jsonl"}

    def test_jsonl_export_takes_no_filters(self, client: Client, inspector: Any) -> None:
        response = client.get(URL, {"format": "jsonl", "type": "consent.approved"}, headers=inspector.headers)

        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert _auditor_events() == []
