"""GET /api/v1/attestations/{slug}: every check, in order, on every request, with real tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
import requests
from django.test import Client
from django.utils import timezone
from jwcrypto import jwk, jws
from oauth2_provider.models import AccessToken

from audit.models import AuditEvent, EventType
from consent.models import Citizen, Consent, HeldResult, TokenBinding
from consent.services.lifecycle import consent_pause, consent_revoke
from core.jose import canonical_payload
from gateway.models import Exchange
from providers.demo import catalogue_load
from providers.models import AttestationField, AttestationType, EidasLevel, Habilitation, Organisation
from tests.gateway.conftest import QF, Consumer, bearer, citizen_actor, habilitation_grant

URL = f"/api/v1/attestations/{QF}"


@pytest.fixture
def mairie_token(client: Client, mairie_client: Consumer) -> str:
    return mairie_client.token(client, f"attestations:{QF}")


@pytest.fixture
def alice_consent(alice: Citizen, mairie: Organisation, make_consent: Callable[..., Consent]) -> Consent:
    return make_consent(alice, mairie)


def get(client: Client, token: str, consent: Consent | None, url: str = URL) -> Any:
    query = f"?consent={consent.pk}" if consent is not None else ""
    return client.get(url + query, **bearer(token))


def assert_denied(response: Any, status: int, code: str, *, consent: Consent | None = None) -> None:
    """A denial: the problem, no document, a denied Exchange and its exchange.denied event."""
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == code
    assert "attestation" not in body and "jws" not in body
    event = AuditEvent.objects.filter(type=EventType.EXCHANGE_DENIED).latest("id")
    assert event.detail == {"code": code}
    assert event.fields == []
    exchange = Exchange.objects.get(pk=event.exchange_id)
    assert exchange.status == Exchange.Status.DENIED
    assert exchange.error_code == code
    assert exchange.document_sha256 == ""
    assert exchange.consent_id == (consent.pk if consent is not None else None)


class TestExchange:
    def test_it_delivers_a_signed_attestation_of_the_consented_fields_and_records_it(
        self, client: Client, mairie_token: str, alice: Citizen, mairie: Organisation, make_consent: Any
    ) -> None:
        consent = make_consent(alice, mairie, fields=["quotient_familial"])

        response = get(client, mairie_token, consent)

        assert response.status_code == 200, response.content
        assert response["Cache-Control"] == "no-store"
        body = response.json()
        attestation = body["attestation"]
        assert set(attestation) == {"type", "issuer", "issued_at", "subject_ref", "consent", "fields"}
        assert attestation["type"] == QF
        assert attestation["issuer"] == AttestationType.objects.get(slug=QF).holder.siret
        assert attestation["subject_ref"] == alice.ref
        assert attestation["consent"] == str(consent.pk)
        assert list(attestation["fields"]) == ["quotient_familial"]
        exchange = Exchange.objects.get(pk=body["exchange_id"])
        assert exchange.status == Exchange.Status.SUCCEEDED
        assert exchange.consumer == mairie and exchange.consent == consent
        assert exchange.fields == ["quotient_familial"]
        assert exchange.document_sha256 == hashlib.sha256(canonical_payload(attestation)).hexdigest()
        assert not HeldResult.objects.exists()
        consent.refresh_from_db()
        assert consent.uses == 1
        event = AuditEvent.objects.get(type=EventType.EXCHANGE_SUCCEEDED)
        assert event.exchange_id == exchange.pk and event.consent_id == consent.pk
        assert event.citizen_ref == alice.ref and event.consumer == mairie.siret
        assert event.fields == ["quotient_familial"]
        assert "quotient_familial" not in json.dumps(event.detail)

    def test_its_jws_verifies_against_the_published_jwks(
        self, client: Client, mairie_token: str, alice_consent: Consent
    ) -> None:
        body = get(client, mairie_token, alice_consent).json()
        keys = jwk.JWKSet.from_json(client.get("/.well-known/jwks.json").content)

        token = jws.JWS()
        token.deserialize(body["jws"])
        kid = token.jose_header["kid"]
        token.verify(keys.get_key(kid), alg="EdDSA")

        assert json.loads(token.payload) == body["attestation"]

    def test_it_refuses_a_token_without_the_scope(
        self, client: Client, mairie_client: Consumer, alice_consent: Consent
    ) -> None:
        token = mairie_client.token(client, "consents:read")

        assert_denied(get(client, token, alice_consent), 403, "scope_missing")

    def test_it_refuses_a_revoked_habilitation_on_the_next_request(
        self, client: Client, mairie_token: str, alice_consent: Consent
    ) -> None:
        assert get(client, mairie_token, alice_consent).status_code == 200
        Habilitation.objects.filter(consumer=alice_consent.consumer, attestation_type__slug=QF).update(
            status=Habilitation.Status.REVOKED
        )

        assert_denied(get(client, mairie_token, alice_consent), 403, "habilitation_missing")

    def test_it_hides_another_consumers_consent(
        self,
        client: Client,
        cd_rhone: Organisation,
        make_consumer: Callable[..., Consumer],
        alice_consent: Consent,
    ) -> None:
        habilitation_grant(cd_rhone, QF)
        token = make_consumer(cd_rhone).token(client, f"attestations:{QF}")

        response = get(client, token, alice_consent)

        assert_denied(response, 404, "not_found")
        assert AuditEvent.objects.get(type=EventType.EXCHANGE_DENIED).consent_id is None

    def test_it_gives_each_consent_its_own_citizen(
        self, client: Client, mairie_token: str, alice: Citizen, bob: Citizen, mairie: Organisation, make_consent: Any
    ) -> None:
        alices, bobs = make_consent(alice, mairie), make_consent(bob, mairie)

        assert get(client, mairie_token, alices).json()["attestation"]["subject_ref"] == alice.ref
        assert get(client, mairie_token, bobs).json()["attestation"]["subject_ref"] == bob.ref

    def test_it_refuses_a_consent_not_covering_the_type(
        self, client: Client, mairie_client: Consumer, alice_consent: Consent
    ) -> None:
        slug = "dgfip.avis-imposition"
        token = mairie_client.token(client, f"attestations:{slug}")

        assert_denied(
            get(client, token, alice_consent, url=f"/api/v1/attestations/{slug}"),
            403,
            "consent_required",
            consent=alice_consent,
        )

    def test_it_needs_a_consent(self, client: Client, mairie_token: str, alice_consent: Consent) -> None:
        assert_denied(get(client, mairie_token, None), 403, "consent_required")

    def test_it_refuses_a_revoked_consent_on_the_next_request(
        self, client: Client, mairie_token: str, alice: Citizen, alice_consent: Consent
    ) -> None:
        assert get(client, mairie_token, alice_consent).status_code == 200
        consent_revoke(consent=alice_consent, actor=citizen_actor(alice), reason="test")

        assert_denied(get(client, mairie_token, alice_consent), 403, "consent_revoked", consent=alice_consent)

    def test_it_refuses_a_paused_consent_on_the_next_request(
        self, client: Client, mairie_token: str, alice: Citizen, alice_consent: Consent
    ) -> None:
        assert get(client, mairie_token, alice_consent).status_code == 200
        consent_pause(consent=alice_consent, citizen=alice)

        assert_denied(get(client, mairie_token, alice_consent), 403, "consent_paused", consent=alice_consent)

    def test_it_refuses_a_consent_past_its_validity_and_expires_it(
        self, client: Client, mairie_token: str, alice_consent: Consent
    ) -> None:
        assert get(client, mairie_token, alice_consent).status_code == 200
        Consent.objects.filter(pk=alice_consent.pk).update(valid_until=timezone.now() - dt.timedelta(seconds=1))

        assert_denied(get(client, mairie_token, alice_consent), 403, "consent_expired", consent=alice_consent)
        alice_consent.refresh_from_db()
        assert alice_consent.status == Consent.Status.EXPIRED

    def test_it_stops_at_the_use_limit(
        self, client: Client, mairie_token: str, alice: Citizen, mairie: Organisation, make_consent: Any
    ) -> None:
        consent = make_consent(alice, mairie, max_uses=2)
        assert get(client, mairie_token, consent).status_code == 200
        assert get(client, mairie_token, consent).status_code == 200

        assert_denied(get(client, mairie_token, consent), 403, "usage_limit_reached", consent=consent)
        consent.refresh_from_db()
        assert consent.uses == 2

    def test_it_refuses_a_login_level_below_the_types_minimum(
        self, client: Client, mairie_token: str, alice: Citizen, mairie: Organisation, make_consent: Any
    ) -> None:
        consent = make_consent(alice, mairie, eidas_level=EidasLevel.LOW)
        AttestationType.objects.filter(slug=QF).update(eidas_min=EidasLevel.SUBSTANTIAL)

        response = get(client, mairie_token, consent)

        assert_denied(response, 403, "loa_insufficient", consent=consent)

    def test_it_refuses_a_token_in_the_query_string(
        self, client: Client, mairie_token: str, alice_consent: Consent
    ) -> None:
        in_query = client.get(f"{URL}?consent={alice_consent.pk}&access_token={mairie_token}")
        with_header_too = client.get(
            f"{URL}?consent={alice_consent.pk}&access_token={mairie_token}", **bearer(mairie_token)
        )

        for response in (in_query, with_header_too):
            assert response.status_code == 401
            assert response.json()["code"] == "authentication_required"
        assert not Exchange.objects.exists()

    def test_it_refuses_a_revoked_token_on_the_next_request(
        self, client: Client, mairie_client: Consumer, mairie_token: str, alice_consent: Consent
    ) -> None:
        assert get(client, mairie_token, alice_consent).status_code == 200
        client.post("/oauth/revoke_token/", {"token": mairie_token}, HTTP_AUTHORIZATION=mairie_client.basic)

        response = get(client, mairie_token, alice_consent)

        assert response.status_code == 401
        assert response.json()["code"] == "authentication_required"

    def test_bad_input_changes_nothing(self, client: Client, mairie_token: str, alice_consent: Consent) -> None:
        events = AuditEvent.objects.count()

        response = client.get(f"{URL}?consent=not-a-uuid", **bearer(mairie_token))

        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert not Exchange.objects.exists()
        assert AuditEvent.objects.count() == events

    def test_it_reads_and_writes_the_database_a_fixed_number_of_times(
        self, client: Client, mairie_token: str, alice_consent: Consent, django_assert_num_queries: Any
    ) -> None:
        # The token with its client and organisation; the grant (the consent item for the type with
        # its consent, citizen, type, holder, habilitation and the token's binding); then one
        # statement that takes the consent's use, inserts the exchange row and the audit event, all
        # or none. Every check reads afresh: nothing here may come from a cache.
        with django_assert_num_queries(3) as queries:
            response = get(client, mairie_token, alice_consent)

        assert response.status_code == 200, response.content
        statements = [query["sql"].split()[0] for query in queries.captured_queries]
        assert statements == ["SELECT", "SELECT", "WITH"]
        assert (
            "UPDATE" in queries.captured_queries[2]["sql"] and queries.captured_queries[2]["sql"].count("INSERT") == 2
        )

    def test_it_refuses_a_token_of_a_deactivated_organisation_on_the_next_request(
        self, client: Client, mairie_token: str, mairie: Organisation, alice_consent: Consent
    ) -> None:
        assert get(client, mairie_token, alice_consent).status_code == 200
        Organisation.objects.filter(pk=mairie.pk).update(active=False)

        response = get(client, mairie_token, alice_consent)

        assert response.status_code == 401
        assert response.json()["code"] == "authentication_required"
        assert Exchange.objects.count() == 1

    def test_it_answers_a_slug_with_a_nul_byte_as_an_unknown_type(
        self, client: Client, mairie_token: str, alice_consent: Consent
    ) -> None:
        response = client.get(
            "/api/v1/attestations/cnaf.quotient%00familial", {"consent": str(alice_consent.pk)}, **bearer(mairie_token)
        )

        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        assert not Exchange.objects.exists()

    def test_it_refuses_a_type_withdrawn_since_the_token_was_issued(
        self, client: Client, mairie_token: str, alice_consent: Consent
    ) -> None:
        AttestationType.objects.filter(slug=QF).update(active=False)

        response = get(client, mairie_token, alice_consent)

        assert response.status_code == 404
        assert response.json()["code"] == "not_found"
        assert not Exchange.objects.exists()
        assert AuditEvent.objects.get(type=EventType.EXCHANGE_DENIED).detail == {"code": "not_found"}

    def test_it_holds_a_consent_bound_token_to_its_consent(
        self, client: Client, mairie_token: str, alice: Citizen, bob: Citizen, mairie: Organisation, make_consent: Any
    ) -> None:
        alices, bobs = make_consent(alice, mairie), make_consent(bob, mairie)
        access_token = AccessToken.objects.get(token_checksum=hashlib.sha256(mairie_token.encode()).hexdigest())
        TokenBinding.objects.create(access_token=access_token, consent=alices)

        assert get(client, mairie_token, None).json()["attestation"]["consent"] == str(alices.pk)
        assert get(client, mairie_token, alices).status_code == 200
        assert_denied(get(client, mairie_token, bobs), 403, "consent_required")
        bobs.refresh_from_db()
        assert bobs.uses == 0

    def test_it_refuses_a_consent_bound_token_once_its_consent_is_paused(
        self, client: Client, mairie_token: str, alice: Citizen, mairie: Organisation, make_consent: Any
    ) -> None:
        consent = make_consent(alice, mairie)
        access_token = AccessToken.objects.get(token_checksum=hashlib.sha256(mairie_token.encode()).hexdigest())
        TokenBinding.objects.create(access_token=access_token, consent=consent)
        assert get(client, mairie_token, None).status_code == 200
        consent_pause(consent=consent, citizen=alice)

        assert_denied(get(client, mairie_token, None), 403, "consent_paused", consent=consent)

    def test_it_records_a_subject_the_provider_does_not_know_as_failed(
        self, client: Client, mairie_token: str, mairie: Organisation, make_consent: Any
    ) -> None:
        nobody = Citizen.objects.create(
            subject="nobody-sub",
            nom_naissance="INCONNU",
            prenoms="Personne",
            date_naissance=dt.date(1901, 1, 1),
            sexe="F",
            code_cog_lieu_naissance="99999",
        )
        consent = make_consent(nobody, mairie)

        response = get(client, mairie_token, consent)

        assert response.status_code == 404
        assert response.json()["code"] == "subject_not_found"
        event = AuditEvent.objects.get(type=EventType.EXCHANGE_FAILED)
        assert event.detail == {"code": "subject_not_found"}
        assert Exchange.objects.get(pk=event.exchange_id).status == Exchange.Status.FAILED
        consent.refresh_from_db()
        assert consent.uses == 0

    @pytest.mark.parametrize("method", ["head", "options"])
    def test_a_safe_method_other_than_get_runs_no_exchange(
        self, client: Client, mairie_token: str, alice_consent: Consent, method: str
    ) -> None:
        response = getattr(client, method)(f"{URL}?consent={alice_consent.pk}", **bearer(mairie_token))

        assert response.status_code == 405
        assert response["Content-Type"] == "application/problem+json"
        assert response["Allow"] == "GET"
        if method == "options":
            assert response.json()["code"] == "method_not_allowed"
        assert not Exchange.objects.exists()
        assert not AuditEvent.objects.filter(type__startswith="exchange.").exists()
        alice_consent.refresh_from_db()
        assert alice_consent.uses == 0


class TestExchangeOverHttp:
    """The sandbox provider over real HTTP (the `http` adapter)."""

    @pytest.fixture
    def http_catalogue(self, sandbox_url: str, catalogue: None) -> str:
        catalogue_load(adapter_kind=AttestationType.AdapterKind.HTTP, base_url=sandbox_url)
        return sandbox_url

    def test_it_delivers_through_the_sandbox(
        self, client: Client, http_catalogue: str, mairie_token: str, alice_consent: Consent
    ) -> None:
        response = get(client, mairie_token, alice_consent)

        assert response.status_code == 200, response.content
        assert response.json()["attestation"]["fields"]
        assert Exchange.objects.get().status == Exchange.Status.SUCCEEDED

    def test_it_reads_the_database_as_often_as_the_demo_adapter(
        self,
        client: Client,
        http_catalogue: str,
        mairie_token: str,
        alice_consent: Consent,
        django_assert_num_queries: Any,
    ) -> None:
        # The fields' schemas that the HTTP adapter checks the provider's answer against come with
        # the grant's own query: the token, the grant, then the one write statement, as with the
        # demo adapter (test_it_reads_and_writes_the_database_a_fixed_number_of_times).
        with django_assert_num_queries(3) as queries:
            response = get(client, mairie_token, alice_consent)

        assert response.status_code == 200, response.content
        assert [query["sql"].split()[0] for query in queries.captured_queries] == ["SELECT", "SELECT", "WITH"]
        assert "providers_attestationfield" in queries.captured_queries[1]["sql"]

    def test_it_checks_the_provider_against_a_field_schema_edited_a_moment_ago(
        self, client: Client, http_catalogue: str, mairie_token: str, alice_consent: Consent
    ) -> None:
        assert get(client, mairie_token, alice_consent).status_code == 200
        # As an operator would in the admin: the sandbox's integer no longer matches.
        field = AttestationField.objects.get(attestation_type__slug=QF, name="quotient_familial")
        field.schema = {"type": "string"}
        field.save()

        response = get(client, mairie_token, alice_consent)

        assert response.status_code == 502
        assert response.json()["code"] == "provider_error"
        assert Exchange.objects.filter(status=Exchange.Status.FAILED).count() == 1

    def test_it_hides_a_provider_error_behind_a_stable_problem(
        self, client: Client, http_catalogue: str, mairie_token: str, alice_consent: Consent
    ) -> None:
        fault = requests.put(
            f"{http_catalogue}/_sandbox/faults",
            json={"mode": "error"},
            headers={"Authorization": "Bearer sandbox-test-token"},
            timeout=5,
        )
        assert fault.status_code == 200

        response = get(client, mairie_token, alice_consent)

        assert response.status_code == 502
        body = response.json()
        assert body["code"] == "provider_error"
        assert set(body) == {"type", "title", "status", "detail", "code", "instance"}
        assert AuditEvent.objects.get(type=EventType.EXCHANGE_FAILED).detail == {"code": "provider_error"}
        alice_consent.refresh_from_db()
        assert alice_consent.uses == 0
