from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from consent.models import Citizen, Consent
from consent.services import consent_approve
from providers.models import Habilitation, Organisation
from tests.conftest import ApiCaller
from tests.consent.conftest import AVIS, QF

pytestmark = pytest.mark.django_db

URL = "/api/v1/consent-requests"


def body(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "attestation_types": [QF],
        "fields": {QF: ["quotient_familial"]},
        "purpose": {"code": "tarification-sociale", "text": "Tarif de la cantine"},
        "duration_days": 90,
        "max_uses": 3,
        "return_url": "https://demarches.villeurbanne.fr/retour",
        "reference": "dossier-42",
    }
    data.update(overrides)
    return data


def post(client: Client, caller: ApiCaller, data: dict[str, Any], **headers: str) -> Any:
    return client.post(URL, data, content_type="application/json", headers={**caller.headers, **headers})


def consent_events() -> Any:
    # The personas' set-up writes events of its own (habilitations): only consent events count here.
    return AuditEvent.objects.filter(type__startswith="consent.")


def assert_nothing_created() -> None:
    assert Consent.objects.count() == 0
    assert consent_events().count() == 0


class TestCreate:
    def test_it_creates_a_pending_request(self, client: Client, mairie_caller: ApiCaller, settings: Any):
        response = post(client, mairie_caller, body())
        assert response.status_code == 201, response.content
        data = response.json()
        consent = Consent.objects.get()
        assert data["id"] == str(consent.pk)
        assert data["status"] == "pending"
        assert data["approval_url"] == f"{settings.GATEWAY_BASE_URL}/consentements/demandes/{consent.pk}/"
        assert response["Location"].endswith(f"/api/v1/consents/{consent.pk}")
        assert data["attestation_types"] == [QF]
        assert data["fields"] == {QF: ["quotient_familial"]}
        assert data["purpose"] == {"code": "tarification-sociale", "text": "Tarif de la cantine"}
        assert (data["duration_days"], data["max_uses"], data["reference"]) == (90, 3, "dossier-42")
        assert data["artefact"] is None
        expires = dt.datetime.fromisoformat(data["request_expires_at"])
        assert abs(expires - (timezone.now() + dt.timedelta(days=7))) < dt.timedelta(minutes=1)
        assert consent.consumer == mairie_caller.organisation
        assert consent.client == mairie_caller.application
        [event] = consent_events()
        assert (event.type, event.actor, event.consent_id) == (
            "consent.requested",
            mairie_caller.application.client_id,
            consent.pk,
        )

    def test_it_defaults_to_every_field_of_the_habilitation(self, client: Client, mairie_caller: ApiCaller):
        response = post(client, mairie_caller, body(fields=None, max_uses=None))
        assert response.status_code == 201
        habilitation = Habilitation.objects.get(consumer=mairie_caller.organisation, attestation_type__slug=QF)
        assert sorted(response.json()["fields"][QF]) == sorted(habilitation.fields)
        assert response.json()["max_uses"] is None

    @pytest.mark.parametrize(
        ("overrides", "field", "code"),
        [
            ({"attestation_types": []}, "attestation_types", "min_length"),
            ({"attestation_types": ["cnaf.inconnu"], "fields": None}, "attestation_types", "unknown_type"),
            ({"duration_days": 366}, "duration_days", "out_of_range"),
            ({"duration_days": 0}, "duration_days", "out_of_range"),
            ({"max_uses": 0}, "max_uses", "out_of_range"),
            ({"max_uses": 2**40}, "max_uses", "out_of_range"),
            ({"return_url": "http://demarches.villeurbanne.fr/retour"}, "return_url", "https_required"),
            ({"return_url": "javascript:alert(1)"}, "return_url", "invalid_url"),
            # Only the origins the consumer registered (Organisation.return_url_origins).
            ({"return_url": "https://evil.example/retour"}, "return_url", "origin_not_registered"),
            ({"return_url": "https://demarches.villeurbanne.fr:8443/retour"}, "return_url", "origin_not_registered"),
            ({"return_url": "https://villeurbanne.fr/retour"}, "return_url", "origin_not_registered"),
            ({"purpose": {"text": "sans code"}}, "purpose.code", "required"),
            ({"duration_days": "un an"}, "duration_days", "invalid"),
            ({"fields": {AVIS: ["revenu_fiscal_reference"]}}, f"fields.{AVIS}", "type_not_requested"),
        ],
    )
    def test_it_refuses_invalid_input_and_creates_nothing(
        self, client: Client, mairie_caller: ApiCaller, overrides: dict[str, Any], field: str, code: str
    ):
        response = post(client, mairie_caller, body(**overrides))
        assert response.status_code == 400
        assert response["Content-Type"] == "application/problem+json"
        problem = response.json()
        assert problem["code"] == "validation_error"
        assert code in [error["code"] for error in problem["errors"][field]], problem
        assert_nothing_created()

    def test_it_refuses_fields_outside_the_habilitation(self, client: Client, mairie_caller: ApiCaller):
        Habilitation.objects.filter(attestation_type__slug=QF).update(fields=["quotient_familial"])
        response = post(client, mairie_caller, body(fields={QF: ["quotient_familial", "allocataires"]}))
        assert response.status_code == 400
        [error] = response.json()["errors"][f"fields.{QF}"]
        assert error["code"] == "outside_habilitation"
        assert "allocataires" in error["message"]
        assert_nothing_created()

    def test_it_refuses_a_purpose_outside_the_habilitation(self, client: Client, mairie_caller: ApiCaller):
        response = post(client, mairie_caller, body(purpose={"code": "aide-logement", "text": "Logement"}))
        assert response.status_code == 400
        assert response.json()["errors"]["purpose.code"][0]["code"] == "outside_habilitation"
        assert_nothing_created()

    def test_it_refuses_a_type_without_habilitation(self, client: Client, cd_rhone_caller: ApiCaller):
        response = post(client, cd_rhone_caller, body(return_url=""))
        assert response.status_code == 403
        assert response.json()["code"] == "habilitation_missing"
        assert_nothing_created()

    def test_it_refuses_a_revoked_habilitation(self, client: Client, mairie_caller: ApiCaller):
        Habilitation.objects.filter(attestation_type__slug=QF).update(status=Habilitation.Status.REVOKED)
        response = post(client, mairie_caller, body())
        assert response.json()["code"] == "habilitation_missing"
        assert_nothing_created()

    def test_it_accepts_a_return_url_on_a_registered_origin(self, client: Client, mairie_caller: ApiCaller):
        assert mairie_caller.organisation.return_url_origins == ["https://demarches.villeurbanne.fr"]

        # Host names compare without case and the default port is the same origin (RFC 6454).
        response = post(client, mairie_caller, body(return_url="https://Demarches.Villeurbanne.fr:443/r?dossier=1"))

        assert response.status_code == 201, response.content
        assert Consent.objects.get().return_url == "https://Demarches.Villeurbanne.fr:443/r?dossier=1"

    def test_an_organisation_without_origins_may_give_no_return_url(self, client: Client, mairie_caller: ApiCaller):
        Organisation.objects.filter(pk=mairie_caller.organisation.pk).update(return_url_origins=[])

        refused = post(client, mairie_caller, body())
        without = post(client, mairie_caller, body(return_url=""))

        assert refused.status_code == 400
        assert refused.json()["code"] == "validation_error"
        [error] = refused.json()["errors"]["return_url"]
        assert error["code"] == "origin_not_registered"
        assert "https://demarches.villeurbanne.fr" in error["message"]
        assert without.status_code == 201
        assert Consent.objects.get().return_url == ""
        assert consent_events().count() == 1

    def test_it_allows_a_loopback_return_url_in_demo_mode_only(
        self, client: Client, mairie_caller: ApiCaller, settings: Any
    ):
        Organisation.objects.filter(pk=mairie_caller.organisation.pk).update(
            return_url_origins=["http://127.0.0.1:8080", "http://localhost:8080"]
        )
        loopback = body(return_url="http://127.0.0.1:8080/retour")
        assert post(client, mairie_caller, loopback).status_code == 201
        settings.DEMO_MODE = False
        response = post(client, mairie_caller, body(return_url="http://localhost:8080/retour", reference="autre"))
        assert response.status_code == 400
        assert response.json()["errors"]["return_url"][0]["code"] == "https_required"
        assert Consent.objects.count() == 1


class TestAuthentication:
    def test_it_requires_a_token(self, client: Client, catalogue: None):
        response = client.post(URL, body(), content_type="application/json")
        assert response.status_code == 401
        assert response.json()["code"] == "authentication_required"
        assert_nothing_created()

    def test_it_requires_the_write_scope(
        self, client: Client, mairie: Organisation, make_caller: Callable[..., ApiCaller]
    ):
        reader = make_caller(mairie, "consents:read")
        response = post(client, reader, body())
        assert response.status_code == 403
        assert response.json()["code"] == "scope_missing"
        assert_nothing_created()

    def test_it_requires_the_read_scope(
        self, client: Client, mairie: Organisation, make_caller: Callable[..., ApiCaller]
    ):
        writer = make_caller(mairie, "consents:write")
        response = client.get("/api/v1/consents", headers=writer.headers)
        assert response.status_code == 403
        assert response.json()["code"] == "scope_missing"

    def test_it_refuses_a_client_without_an_organisation(self, client: Client, mairie_caller: ApiCaller):
        # A token is only as good as its client: one no organisation operates is no valid token.
        mairie_caller.application.api_client.delete()
        response = post(client, mairie_caller, body())
        assert response.status_code == 401
        assert response.json()["code"] == "authentication_required"
        assert response["WWW-Authenticate"].startswith("Bearer")
        assert_nothing_created()

    def test_it_refuses_a_switched_off_organisation_as_every_api_does(
        self, client: Client, mairie_caller: ApiCaller
    ) -> None:
        Organisation.objects.filter(pk=mairie_caller.organisation.pk).update(active=False)
        for response in (
            post(client, mairie_caller, body()),
            client.get("/api/v1/consents", headers=mairie_caller.headers),
            client.get("/api/v1/attestations/cnaf.quotient-familial", headers=mairie_caller.headers),
            client.get("/api/v1/audit/events", headers=mairie_caller.headers),
        ):
            assert response.status_code == 401
            assert response.json()["code"] == "authentication_required"
        assert_nothing_created()


class TestIdempotency:
    def test_it_replays_the_same_request(self, client: Client, mairie_caller: ApiCaller):
        first = post(client, mairie_caller, body(), **{"Idempotency-Key": "key-1"})
        second = post(client, mairie_caller, body(), **{"Idempotency-Key": "key-1"})
        assert (first.status_code, second.status_code) == (201, 201)
        assert first.json() == second.json()
        assert second["Location"] == first["Location"]
        assert Consent.objects.count() == 1
        assert consent_events().count() == 1

    def test_it_refuses_the_same_key_with_another_body(self, client: Client, mairie_caller: ApiCaller):
        assert post(client, mairie_caller, body(), **{"Idempotency-Key": "key-1"}).status_code == 201
        response = post(client, mairie_caller, body(duration_days=30), **{"Idempotency-Key": "key-1"})
        assert response.status_code == 409
        assert response.json()["code"] == "idempotency_key_reused"
        assert Consent.objects.count() == 1
        assert consent_events().count() == 1

    @pytest.mark.parametrize(("key", "code"), [("key\x00", "invalid"), ("k" * 201, "too_long")])
    def test_it_refuses_a_key_the_database_cannot_hold(
        self, client: Client, mairie_caller: ApiCaller, key: str, code: str
    ):
        response = post(client, mairie_caller, body(), **{"Idempotency-Key": key})

        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert [error["code"] for error in response.json()["errors"]["idempotency_key"]] == [code]
        assert_nothing_created()

    def test_it_scopes_keys_per_client(
        self, client: Client, mairie: Organisation, make_caller: Callable[..., ApiCaller]
    ):
        one, other = make_caller(mairie), make_caller(mairie)
        assert post(client, one, body(), **{"Idempotency-Key": "shared"}).status_code == 201
        assert post(client, other, body(duration_days=30), **{"Idempotency-Key": "shared"}).status_code == 201
        assert Consent.objects.count() == 2

    def test_it_creates_twice_without_a_key(self, client: Client, mairie_caller: ApiCaller):
        post(client, mairie_caller, body())
        post(client, mairie_caller, body())
        assert Consent.objects.count() == 2


class TestRead:
    @pytest.fixture
    def created(self, client: Client, mairie_caller: ApiCaller) -> Consent:
        assert post(client, mairie_caller, body()).status_code == 201
        return Consent.objects.get()

    def test_it_returns_the_consumers_consent(self, client: Client, mairie_caller: ApiCaller, created: Consent):
        response = client.get(f"/api/v1/consents/{created.pk}", headers=mairie_caller.headers)
        assert response.status_code == 200
        data = response.json()
        assert (data["id"], data["status"], data["uses"], data["version"]) == (str(created.pk), "pending", 0, 1)
        assert data["valid_from"] is None and data["artefact"] is None

    def test_it_shows_the_artefact_once_active(
        self, client: Client, mairie_caller: ApiCaller, created: Consent, alice: Citizen
    ):
        consent_approve(consent=created, citizen=alice, eidas_level="eidas2")
        data = client.get(f"/api/v1/consents/{created.pk}", headers=mairie_caller.headers).json()
        assert data["status"] == "active"
        assert data["artefact"].count(".") == 2
        assert data["valid_from"] and data["valid_until"] and data["decided_at"]
        assert "citizen" not in data

    def test_another_consumer_gets_404_on_read_and_delete(
        self, client: Client, cd_rhone_caller: ApiCaller, created: Consent
    ):
        for response in (
            client.get(f"/api/v1/consents/{created.pk}", headers=cd_rhone_caller.headers),
            client.delete(f"/api/v1/consents/{created.pk}", headers=cd_rhone_caller.headers),
        ):
            assert response.status_code == 404
            assert response["Content-Type"] == "application/problem+json"
            assert response.json()["code"] == "not_found"
        created.refresh_from_db()
        assert created.status == "pending"
        assert AuditEvent.objects.filter(type="consent.revoked").count() == 0

    def test_an_unknown_id_is_the_same_404(self, client: Client, mairie_caller: ApiCaller, catalogue: None):
        response = client.get(f"/api/v1/consents/{uuid.uuid4()}", headers=mairie_caller.headers)
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"

    def test_it_lists_and_filters_by_status(
        self, client: Client, mairie_caller: ApiCaller, cd_rhone_caller: ApiCaller, alice: Citizen
    ):
        for reference in ("a", "b", "c"):
            post(client, mairie_caller, body(reference=reference))
        consent_approve(consent=Consent.objects.get(reference="b"), citizen=alice, eidas_level="eidas2")
        everything = client.get("/api/v1/consents", headers=mairie_caller.headers).json()
        assert sorted(c["reference"] for c in everything["results"]) == ["a", "b", "c"]
        active = client.get("/api/v1/consents?status=active", headers=mairie_caller.headers).json()
        assert [c["reference"] for c in active["results"]] == ["b"]
        others = client.get("/api/v1/consents", headers=cd_rhone_caller.headers).json()
        assert others["results"] == []

    def test_it_paginates_with_a_cursor(self, client: Client, mairie_caller: ApiCaller):
        for reference in ("a", "b", "c"):
            post(client, mairie_caller, body(reference=reference))
        first = client.get("/api/v1/consents?page_size=2", headers=mairie_caller.headers).json()
        assert len(first["results"]) == 2 and first["next"]
        second = client.get(first["next"], headers=mairie_caller.headers).json()
        seen = [c["reference"] for c in first["results"] + second["results"]]
        assert sorted(seen) == ["a", "b", "c"]

    def test_it_refuses_an_unknown_status(self, client: Client, mairie_caller: ApiCaller, catalogue: None):
        response = client.get("/api/v1/consents?status=approved", headers=mairie_caller.headers)
        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert "status" in response.json()["errors"]

    def test_the_list_query_count_does_not_grow(
        self, client: Client, mairie_caller: ApiCaller, django_assert_num_queries: Any
    ):
        for reference in ("a", "b"):
            post(client, mairie_caller, body(reference=reference))
        # The token (with its client and organisation, one query), the expiry sweep, the page, its
        # items with types: none of them per row.
        with django_assert_num_queries(5):
            assert client.get("/api/v1/consents", headers=mairie_caller.headers).status_code == 200
        for reference in ("c", "d", "e"):
            post(client, mairie_caller, body(reference=reference, attestation_types=[QF, AVIS], fields=None))
        with django_assert_num_queries(5):
            assert len(client.get("/api/v1/consents", headers=mairie_caller.headers).json()["results"]) == 5


class TestDelete:
    def test_the_consumer_ends_its_consent(self, client: Client, mairie_caller: ApiCaller, alice: Citizen):
        post(client, mairie_caller, body())
        consent = consent_approve(consent=Consent.objects.get(), citizen=alice, eidas_level="eidas2")
        response = client.delete(f"/api/v1/consents/{consent.pk}", headers=mairie_caller.headers)
        assert response.status_code == 204
        consent.refresh_from_db()
        assert (consent.status, consent.status_reason) == ("revoked", "consumer")
        [event] = AuditEvent.objects.filter(type="consent.revoked")
        assert event.actor == mairie_caller.application.client_id

    def test_it_answers_409_when_already_ended(self, client: Client, mairie_caller: ApiCaller):
        post(client, mairie_caller, body())
        consent = Consent.objects.get()
        assert client.delete(f"/api/v1/consents/{consent.pk}", headers=mairie_caller.headers).status_code == 204
        response = client.delete(f"/api/v1/consents/{consent.pk}", headers=mairie_caller.headers)
        assert response.status_code == 409
        assert response.json()["code"] == "invalid_transition"
        assert AuditEvent.objects.filter(type="consent.revoked").count() == 1

    def test_it_needs_the_write_scope(
        self, client: Client, mairie: Organisation, mairie_caller: ApiCaller, make_caller: Callable[..., ApiCaller]
    ):
        post(client, mairie_caller, body())
        consent = Consent.objects.get()
        reader = make_caller(mairie, "consents:read")
        response = client.delete(f"/api/v1/consents/{consent.pk}", headers=reader.headers)
        assert response.json()["code"] == "scope_missing"
        consent.refresh_from_db()
        assert consent.status == "pending"


def test_the_schema_documents_the_consent_endpoints(client: Client, db: None):
    response = client.get("/api/v1/schema/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    text = response.content.decode()
    for path in ("/api/v1/consent-requests", "/api/v1/consents/{consent_id}", "/api/v1/consents"):
        assert path in text
    assert "Idempotency-Key" in text
