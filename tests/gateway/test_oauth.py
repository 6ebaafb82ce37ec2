"""The hardened authorization server: grants, PKCE, redirect URIs, scope ceiling, replay, audit."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse
from oauth2_provider.models import AccessToken, Application, Grant

from audit.models import AuditEvent, EventType
from consent.models import Citizen, Consent, TokenBinding
from gateway.models import AuthorizationCode
from gateway.oauth.views import GatewayAuthorizationView
from providers.models import Habilitation, Organisation
from tests.gateway.conftest import (
    AVIS,
    QF,
    REDIRECT_URI,
    Consumer,
    basic_auth,
    bearer,
    login_citizen,
    pkce_pair,
)


def checksum(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TestClientCredentials:
    def test_it_issues_a_short_token_stored_as_a_checksum_and_records_it(
        self, client: Client, mairie_client: Consumer
    ) -> None:
        response = mairie_client.token_response(client, f"attestations:{QF} consents:read")

        assert response.status_code == 200
        body = response.json()
        assert body["token_type"] == "Bearer"
        assert 0 < body["expires_in"] <= 600
        assert "refresh_token" not in body
        assert set(body["scope"].split()) == {f"attestations:{QF}", "consents:read"}
        row = AccessToken.objects.get(application=mairie_client.application)
        # RFC 9700 §4: nothing reusable at rest, only the lookup checksum.
        assert row.token == ""
        assert row.token_checksum == checksum(body["access_token"])
        event = AuditEvent.objects.get(type=EventType.TOKEN_ISSUED)
        assert event.actor == mairie_client.client_id
        assert event.consumer == mairie_client.organisation.siret
        assert event.detail["token_id"] == row.pk
        assert event.detail["grant_type"] == "client_credentials"
        assert body["access_token"] not in str(event.detail)

    def test_it_refuses_an_attestation_scope_without_habilitation(
        self, client: Client, cd_rhone: Organisation, make_consumer: Callable[..., Consumer]
    ) -> None:
        cd_rhone_client = make_consumer(cd_rhone)

        response = cd_rhone_client.token_response(client, f"attestations:{QF}")

        assert response.status_code == 400
        assert response.json()["error"] == "invalid_scope"
        assert not AccessToken.objects.exists()
        assert not AuditEvent.objects.filter(type=EventType.TOKEN_ISSUED).exists()

    @pytest.mark.parametrize("scope", ["audit:read", "attestations:nobody.nothing", "read", "consents:read admin"])
    def test_it_refuses_any_scope_above_the_ceiling(self, client: Client, mairie_client: Consumer, scope: str) -> None:
        response = mairie_client.token_response(client, scope)

        assert response.status_code == 400
        assert response.json()["error"] == "invalid_scope"
        assert not AccessToken.objects.exists()

    def test_the_trail_s_scope_goes_to_a_supervisory_body_s_client_only(
        self,
        client: Client,
        dgfip: Organisation,
        supervisor: Organisation,
        make_consumer: Callable[..., Consumer],
    ) -> None:
        # Registered for audit:read by an operator, an exchanging organisation still gets nothing.
        refused = make_consumer(dgfip, scopes=["audit:read"]).token_response(client, "audit:read")
        granted = make_consumer(supervisor, scopes=["audit:read"]).token_response(client, "audit:read")

        assert refused.status_code == 400 and refused.json()["error"] == "invalid_scope"
        assert granted.status_code == 200 and granted.json()["scope"] == "audit:read"

    def test_it_refuses_a_request_naming_no_scope(self, client: Client, mairie_client: Consumer) -> None:
        # No default scope: a token that could do nothing is no answer (RFC 6749 §3.3).
        response = client.post(
            "/oauth/token/", {"grant_type": "client_credentials"}, HTTP_AUTHORIZATION=mairie_client.basic
        )

        assert response.status_code == 400
        assert response.json()["error"] == "invalid_scope"
        assert not AccessToken.objects.exists()

    def test_it_takes_a_revoked_habilitation_out_of_the_ceiling_at_once(
        self, client: Client, mairie_client: Consumer
    ) -> None:
        mairie_client.token(client, f"attestations:{QF}")
        Habilitation.objects.filter(consumer=mairie_client.organisation, attestation_type__slug=QF).update(
            status=Habilitation.Status.REVOKED
        )

        response = mairie_client.token_response(client, f"attestations:{QF}")

        assert response.json()["error"] == "invalid_scope"

    @pytest.mark.parametrize(
        "grant_type", ["password", "refresh_token", "implicit", "urn:ietf:params:oauth:grant-type:device_code"]
    )
    def test_it_knows_no_other_grant(self, client: Client, mairie_client: Consumer, grant_type: str) -> None:
        response = client.post(
            "/oauth/token/",
            {"grant_type": grant_type, "username": "x", "password": "y", "refresh_token": "z"},
            HTTP_AUTHORIZATION=mairie_client.basic,
        )

        assert response.status_code == 400
        assert response.json()["error"] == "unsupported_grant_type"
        assert not AccessToken.objects.exists()

    def test_it_refuses_a_wrong_secret(self, client: Client, mairie_client: Consumer) -> None:
        response = client.post(
            "/oauth/token/",
            {"grant_type": "client_credentials"},
            HTTP_AUTHORIZATION=basic_auth(mairie_client.client_id, "not-the-secret"),
        )

        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"

    def test_it_refuses_a_client_of_an_inactive_organisation(self, client: Client, mairie_client: Consumer) -> None:
        Organisation.objects.filter(pk=mairie_client.organisation.pk).update(active=False)

        response = mairie_client.token_response(client, "consents:read")

        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"

    def test_it_records_a_revocation_that_outlives_the_deleted_row(
        self, client: Client, mairie_client: Consumer
    ) -> None:
        token = mairie_client.token(client, "consents:read")
        token_id = AccessToken.objects.get().pk

        response = client.post("/oauth/revoke_token/", {"token": token}, HTTP_AUTHORIZATION=mairie_client.basic)

        assert response.status_code == 200
        assert not AccessToken.objects.exists()
        event = AuditEvent.objects.get(type=EventType.TOKEN_REVOKED)
        assert event.actor == mairie_client.client_id
        assert event.detail == {
            "token_id": token_id,
            "client_id": mairie_client.client_id,
            "reason": "revoked_by_client",
        }


class TestMetadata:
    def test_it_publishes_the_rfc8414_document(self, client: Client, catalogue: None) -> None:
        response = client.get("/.well-known/oauth-authorization-server")

        assert response.status_code == 200
        metadata = response.json()
        assert metadata["issuer"] == "http://testserver"
        assert metadata["authorization_endpoint"] == "http://testserver/oauth/authorize/"
        assert metadata["token_endpoint"] == "http://testserver/oauth/token/"
        assert metadata["revocation_endpoint"] == "http://testserver/oauth/revoke_token/"
        assert metadata["introspection_endpoint"] == "http://testserver/oauth/introspect/"
        assert metadata["jwks_uri"] == "http://testserver/.well-known/jwks.json"
        assert metadata["grant_types_supported"] == ["authorization_code", "client_credentials"]
        assert metadata["response_types_supported"] == ["code"]
        assert metadata["code_challenge_methods_supported"] == ["S256"]
        assert metadata["authorization_response_iss_parameter_supported"] is True
        assert metadata["token_endpoint_auth_methods_supported"] == [
            "private_key_jwt",
            "client_secret_basic",
            "client_secret_post",
        ]
        assert metadata["introspection_endpoint_auth_methods_supported"] == [
            "private_key_jwt",
            "client_secret_basic",
            "client_secret_post",
        ]
        for name in ("token", "revocation", "introspection"):
            assert metadata[f"{name}_endpoint_auth_signing_alg_values_supported"] == ["EdDSA", "ES256", "PS256"]
        assert metadata["dpop_signing_alg_values_supported"] == ["EdDSA", "ES256", "PS256"]
        assert metadata["pushed_authorization_request_endpoint"] == "http://testserver/oauth/par"
        assert metadata["require_pushed_authorization_requests"] is False
        assert {"consents:read", "consents:write", "audit:read", f"attestations:{QF}"} <= set(
            metadata["scopes_supported"]
        )


def authorize_query(consumer: Consumer, challenge: str | None, **overrides: Any) -> dict[str, str]:
    query = {
        "response_type": "code",
        "client_id": consumer.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": f"attestations:{QF}",
        "state": "st4te",
        "code_challenge": challenge or "",
        "code_challenge_method": "S256",
    }
    query.update(overrides)
    return {key: value for key, value in query.items() if value is not None}


def approve(client: Client, query: dict[str, str]) -> Any:
    form = {key: query.get(key, "") for key in ("redirect_uri", "scope", "client_id", "state", "response_type")}
    form.update(
        code_challenge=query.get("code_challenge", ""), code_challenge_method=query.get("code_challenge_method", "")
    )
    form["allow"] = "on"
    return client.post("/oauth/authorize/?" + urlencode(query), form)


def redeem(client: Client, consumer: Consumer, code: str, verifier: str | None, **overrides: str) -> Any:
    data = {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI}
    if verifier is not None:
        data["code_verifier"] = verifier
    data.update(overrides)
    return client.post("/oauth/token/", data, HTTP_AUTHORIZATION=consumer.basic)


def code_from(response: Any) -> str:
    assert response.status_code == 302, response.content
    location = urlsplit(response["Location"])
    params = parse_qs(location.query)
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    assert params["state"] == ["st4te"]
    return params["code"][0]


@pytest.fixture
def citizen_client(client: Client, alice: Citizen) -> Client:
    login_citizen(client, alice)
    return client


class TestAuthorizationCode:
    def test_it_sends_a_citizen_without_a_session_to_the_login(
        self, client: Client, mairie_web_client: Consumer
    ) -> None:
        response = client.get("/oauth/authorize/", authorize_query(mairie_web_client, pkce_pair()[1]))

        assert response.status_code == 302
        assert response["Location"].startswith(reverse("consent:login") + "?next=%2Foauth%2Fauthorize%2F")
        assert not Grant.objects.exists()

    def test_it_shows_the_page_then_issues_a_code_with_iss_and_a_token_for_the_verifier(
        self, citizen_client: Client, mairie_web_client: Consumer
    ) -> None:
        verifier, challenge = pkce_pair()
        query = authorize_query(mairie_web_client, challenge)

        page = citizen_client.get("/oauth/authorize/", query)
        assert page.status_code == 200
        assert mairie_web_client.application.name in page.content.decode()

        response = approve(citizen_client, query)
        code = code_from(response)
        # RFC 9207: the issuer in the authorization response.
        assert parse_qs(urlsplit(response["Location"]).query)["iss"] == ["http://testserver"]
        assert AuthorizationCode.objects.get().code_sha256 == checksum(code)

        token_response = redeem(citizen_client, mairie_web_client, code, verifier)
        assert token_response.status_code == 200
        body = token_response.json()
        assert body["scope"] == f"attestations:{QF}"
        assert "refresh_token" not in body
        assert not Grant.objects.exists()
        assert AuditEvent.objects.get(type=EventType.TOKEN_ISSUED).detail["grant_type"] == "authorization_code"

    def test_it_ignores_approval_prompt_auto(self, citizen_client: Client, mairie_web_client: Consumer) -> None:
        verifier, challenge = pkce_pair()
        query = authorize_query(mairie_web_client, challenge)
        redeem(citizen_client, mairie_web_client, code_from(approve(citizen_client, query)), verifier)

        again = citizen_client.get("/oauth/authorize/", {**query, "approval_prompt": "auto"})

        assert again.status_code == 200
        assert Grant.objects.count() == 0

    def test_it_refuses_a_request_without_pkce(self, citizen_client: Client, mairie_web_client: Consumer) -> None:
        response = citizen_client.get(
            "/oauth/authorize/",
            authorize_query(mairie_web_client, None, code_challenge=None, code_challenge_method=None),
        )

        assert response.status_code == 302
        assert parse_qs(urlsplit(response["Location"]).query)["error"] == ["invalid_request"]
        assert not Grant.objects.exists()

    @pytest.mark.parametrize("method", ["plain", None])
    def test_it_refuses_the_plain_method_even_implied(
        self, citizen_client: Client, mairie_web_client: Consumer, method: str | None
    ) -> None:
        verifier = pkce_pair()[0]
        query = authorize_query(mairie_web_client, verifier, code_challenge_method=method)

        response = citizen_client.get("/oauth/authorize/", query)
        posted = approve(citizen_client, query)

        for answer in (response, posted):
            assert answer.status_code == 302
            assert parse_qs(urlsplit(answer["Location"]).query)["error"] == ["invalid_request"]
        assert not Grant.objects.exists()

    def test_it_refuses_a_wrong_or_missing_verifier(self, citizen_client: Client, mairie_web_client: Consumer) -> None:
        verifier, challenge = pkce_pair()
        code = code_from(approve(citizen_client, authorize_query(mairie_web_client, challenge)))

        missing = redeem(citizen_client, mairie_web_client, code, None)
        wrong = redeem(citizen_client, mairie_web_client, code, pkce_pair()[0])

        assert missing.status_code == 400
        assert missing.json()["error"] == "invalid_request"
        assert wrong.status_code == 400
        assert wrong.json()["error"] == "invalid_grant"
        assert not AccessToken.objects.exists()

    @pytest.mark.parametrize(
        "redirect_uri",
        [
            REDIRECT_URI + "?extra=1",
            REDIRECT_URI + "#fragment",
            "https://user@client.example.fr/callback",
            "https://CLIENT.example.fr/callback",
            "https://client.example.fr/Callback",
            "https://client.example.fr/callback/",
            "http://client.example.fr/callback",
            "https://evil.example/callback",
        ],
    )
    def test_it_refuses_every_redirect_uri_variant_without_redirecting(
        self, citizen_client: Client, mairie_web_client: Consumer, redirect_uri: str
    ) -> None:
        query = authorize_query(mairie_web_client, pkce_pair()[1], redirect_uri=redirect_uri)

        response = citizen_client.get("/oauth/authorize/", query)
        posted = approve(citizen_client, query)

        assert response.status_code == 400
        assert posted.status_code == 400
        assert not Grant.objects.exists()

    def test_it_refuses_a_request_without_redirect_uri(
        self, citizen_client: Client, mairie_web_client: Consumer
    ) -> None:
        response = citizen_client.get(
            "/oauth/authorize/", authorize_query(mairie_web_client, pkce_pair()[1], redirect_uri=None)
        )

        assert response.status_code == 400

    def test_it_refuses_a_redirect_uri_that_differs_at_the_token_endpoint(
        self, citizen_client: Client, mairie_web_client: Consumer
    ) -> None:
        verifier, challenge = pkce_pair()
        code = code_from(approve(citizen_client, authorize_query(mairie_web_client, challenge)))

        response = redeem(citizen_client, mairie_web_client, code, verifier, redirect_uri=REDIRECT_URI + "?x=1")

        assert response.status_code == 400
        assert not AccessToken.objects.exists()

    @pytest.mark.parametrize("scope", [f"attestations:{QF} audit:read", "attestations:nobody.nothing"])
    def test_it_refuses_scope_escalation_at_the_authorization_endpoint(
        self, citizen_client: Client, mairie_web_client: Consumer, scope: str
    ) -> None:
        query = authorize_query(mairie_web_client, pkce_pair()[1], scope=scope)

        response = citizen_client.get("/oauth/authorize/", query)
        posted = approve(citizen_client, query)

        for answer in (response, posted):
            assert answer.status_code == 302
            assert parse_qs(urlsplit(answer["Location"]).query)["error"] == ["invalid_scope"]
        assert not Grant.objects.exists()

    def test_it_refuses_a_client_credentials_client(self, citizen_client: Client, mairie_client: Consumer) -> None:
        response = citizen_client.get("/oauth/authorize/", authorize_query(mairie_client, pkce_pair()[1]))

        assert response.status_code in (400, 401)
        assert not Grant.objects.exists()

    def test_a_replayed_code_revokes_the_tokens_of_its_first_redemption(
        self, citizen_client: Client, mairie_web_client: Consumer
    ) -> None:
        verifier, challenge = pkce_pair()
        code = code_from(approve(citizen_client, authorize_query(mairie_web_client, challenge)))
        first = redeem(citizen_client, mairie_web_client, code, verifier).json()["access_token"]
        # The token is bound to the consent given on the consent screen: no ?consent= needed.
        url = f"/api/v1/attestations/{QF}"
        assert citizen_client.get(url, **bearer(first)).status_code == 200

        replay = redeem(citizen_client, mairie_web_client, code, verifier)

        assert replay.status_code == 400
        assert replay.json()["error"] == "invalid_grant"
        assert not AccessToken.objects.exists()
        revoked = AuditEvent.objects.get(type=EventType.TOKEN_REVOKED)
        assert revoked.detail["reason"] == "code_replayed"
        after = citizen_client.get(url, **bearer(first))
        assert after.status_code == 401
        assert after.json()["code"] == "authentication_required"

    def test_it_binds_the_token_to_the_consent_given_on_the_page(
        self,
        citizen_client: Client,
        mairie_web_client: Consumer,
        alice: Citizen,
        bob: Citizen,
        make_consent: Callable[..., Consent],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        consent = make_consent(alice, mairie_web_client.organisation)
        bobs = make_consent(bob, mairie_web_client.organisation)
        # The consent screen (not built yet) creates the consent on approval; stand in for it.
        monkeypatch.setattr(GatewayAuthorizationView, "consent_for_approval", lambda self, form: consent)
        verifier, challenge = pkce_pair()
        code = code_from(approve(citizen_client, authorize_query(mairie_web_client, challenge)))
        token = redeem(citizen_client, mairie_web_client, code, verifier).json()["access_token"]

        assert TokenBinding.objects.get().consent == consent
        response = citizen_client.get(f"/api/v1/attestations/{QF}", **bearer(token))
        assert response.status_code == 200
        assert response.json()["attestation"]["subject_ref"] == alice.ref
        # Cross-citizen: this token cannot reach bob's data through bob's consent.
        crossed = citizen_client.get(f"/api/v1/attestations/{QF}?consent={bobs.pk}", **bearer(token))
        assert crossed.status_code == 403
        assert crossed.json()["code"] == "consent_required"


class TestSkipAuthorization:
    def test_the_database_refuses_it(self, mairie_web_client: Consumer) -> None:
        with pytest.raises(IntegrityError), transaction.atomic():
            Application.objects.filter(pk=mairie_web_client.application.pk).update(skip_authorization=True)

    def test_the_admin_does_not_offer_it(self, admin_client: Client, mairie_web_client: Consumer) -> None:
        response = admin_client.get(f"/admin/oauth2_provider/application/{mairie_web_client.application.pk}/change/")

        assert response.status_code == 200
        assert "skip_authorization" not in response.content.decode()


def test_avis_scope_exists(catalogue: None) -> None:
    from gateway.oauth.scopes import GatewayScopes

    assert f"attestations:{AVIS}" in GatewayScopes().get_all_scopes()
