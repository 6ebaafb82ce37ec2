"""DPoP (RFC 9449): tokens bound to the client's key at the token endpoint, and proofs checked on
every API call. Every malformed, misdirected, stale or replayed proof is refused with
`invalid_dpop_proof` (or `use_dpop_nonce` with the nonce to use), issues or returns nothing, and
is in the trail with its reason."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from oauth2_provider.models import AccessToken

from audit.models import AuditEvent, EventType
from consent.models import Citizen
from core import replay
from gateway.models import DpopBinding
from providers.models import ApiClient
from tests.gateway.conftest import REDIRECT_URI, Consumer, login_citizen, pkce_pair
from tests.gateway.fapi import TOKEN_URL, DpopKey, new_key
from tests.gateway.test_oauth import authorize_query

TOKEN_ABSOLUTE = "http://testserver/oauth/token/"
CONSENTS_URL = "/api/v1/consents"
CONSENTS_ABSOLUTE = "http://testserver/api/v1/consents"


def refusals() -> list[str]:
    return [event.detail["reason"] for event in AuditEvent.objects.filter(type=EventType.OAUTH_REFUSED).order_by("id")]


def dpop_token_response(client: Client, consumer: Consumer, proof: str | None, scope: str = "consents:read") -> Any:
    extra = {"HTTP_DPOP": proof} if proof is not None else {}
    return client.post(
        TOKEN_URL, {"grant_type": "client_credentials", "scope": scope}, HTTP_AUTHORIZATION=consumer.basic, **extra
    )


def dpop_token(client: Client, consumer: Consumer, key: DpopKey) -> str:
    response = dpop_token_response(client, consumer, key.proof("POST", TOKEN_ABSOLUTE))
    assert response.status_code == 200, response.content
    assert response.json()["token_type"] == "DPoP"
    return str(response.json()["access_token"])


def call(client: Client, token: str, proof: str | None, *, scheme: str = "DPoP", path: str = CONSENTS_URL) -> Any:
    extra = {"HTTP_DPOP": proof} if proof is not None else {}
    return client.get(path, HTTP_AUTHORIZATION=f"{scheme} {token}", **extra)


@pytest.fixture
def key() -> DpopKey:
    return DpopKey()


class TestTokenEndpoint:
    def test_it_binds_the_token_to_the_proofs_key_and_introspection_says_so(
        self, client: Client, mairie_client: Consumer, key: DpopKey
    ):
        token = dpop_token(client, mairie_client, key)

        assert DpopBinding.objects.get().jkt == key.jkt
        introspected = client.post("/oauth/introspect/", {"token": token}, HTTP_AUTHORIZATION=mairie_client.basic)
        assert introspected.json()["active"] is True
        assert introspected.json()["token_type"] == "DPoP"
        assert introspected.json()["cnf"] == {"jkt": key.jkt}

    def test_without_the_servers_nonce_it_answers_use_dpop_nonce_with_one(
        self, client: Client, mairie_client: Consumer, key: DpopKey
    ):
        response = dpop_token_response(client, mairie_client, key.proof("POST", TOKEN_ABSOLUTE, nonce=None))

        assert response.status_code == 400
        assert response.json()["error"] == "use_dpop_nonce"
        nonce = response["DPoP-Nonce"]
        assert AccessToken.objects.count() == 0
        retried = dpop_token_response(client, mairie_client, key.proof("POST", TOKEN_ABSOLUTE, nonce=nonce))
        assert retried.status_code == 200, retried.content

    @pytest.mark.parametrize(
        ("proof_of", "reason"),
        [
            (lambda key: key.proof("GET", TOKEN_ABSOLUTE), "htm_mismatch"),
            (lambda key: key.proof("POST", "http://testserver/oauth/introspect/"), "htu_mismatch"),
            (lambda key: key.proof("POST", "https://testserver/oauth/token/"), "htu_mismatch"),
            (lambda key: key.proof("POST", TOKEN_ABSOLUTE, iat=int(time.time()) - 600), "iat_stale"),
            (lambda key: key.proof("POST", TOKEN_ABSOLUTE, iat=int(time.time()) + 600), "iat_future"),
            (lambda key: key.proof("POST", TOKEN_ABSOLUTE, jti=None), "jti_missing"),
            (lambda key: key.proof("POST", TOKEN_ABSOLUTE, header={"typ": "JWT"}), "proof_type"),
            (lambda key: key.proof("POST", TOKEN_ABSOLUTE, nonce="made-up"), "nonce_stale"),
            (
                lambda key: key.proof("POST", TOKEN_ABSOLUTE, header={"jwk": key.key.as_dict(private=True)}),
                "jwk_not_public",
            ),
            (
                lambda key: key.proof("POST", TOKEN_ABSOLUTE, header={"jwk": DpopKey().key.as_dict(private=False)}),
                "bad_signature",
            ),
            (lambda key: "not.a.proof", "jwt_malformed"),
        ],
    )
    def test_a_bad_proof_is_refused_and_issues_nothing(
        self, client: Client, mairie_client: Consumer, key: DpopKey, proof_of: Callable[[DpopKey], str], reason: str
    ):
        response = dpop_token_response(client, mairie_client, proof_of(key))

        assert response.status_code == 400, response.content
        expected = "use_dpop_nonce" if reason == "nonce_stale" else "invalid_dpop_proof"
        assert response.json()["error"] == expected
        assert AccessToken.objects.count() == 0
        assert refusals() == [reason]

    def test_a_proof_a_few_seconds_ahead_is_accepted_as_fapi_asks(
        self, client: Client, mairie_client: Consumer, key: DpopKey
    ):
        proof = key.proof("POST", TOKEN_ABSOLUTE, iat=int(time.time()) + 8)
        assert dpop_token_response(client, mairie_client, proof).status_code == 200

    def test_a_replayed_proof_is_refused(self, client: Client, mairie_client: Consumer, key: DpopKey):
        proof = key.proof("POST", TOKEN_ABSOLUTE)
        assert dpop_token_response(client, mairie_client, proof).status_code == 200

        response = dpop_token_response(client, mairie_client, proof)

        assert response.json()["error"] == "invalid_dpop_proof"
        assert AccessToken.objects.count() == 1
        assert refusals() == ["jti_replayed"]

    def test_a_client_set_to_require_dpop_gets_no_token_without_a_proof(self, client: Client, mairie_client: Consumer):
        ApiClient.objects.filter(application=mairie_client.application).update(require_dpop=True)

        response = dpop_token_response(client, mairie_client, None)

        assert response.status_code == 400
        assert response.json()["error"] == "invalid_dpop_proof"
        assert AccessToken.objects.count() == 0
        assert refusals() == ["proof_missing"]


class TestResourceServer:
    def test_a_bound_token_with_a_proof_of_its_key_is_served(
        self, client: Client, mairie_client: Consumer, key: DpopKey
    ):
        token = dpop_token(client, mairie_client, key)

        response = call(client, token, key.proof("GET", CONSENTS_ABSOLUTE, token=token))

        assert response.status_code == 200, response.content

    def test_htu_ignores_the_query_string(self, client: Client, mairie_client: Consumer, key: DpopKey):
        token = dpop_token(client, mairie_client, key)
        proof = key.proof("GET", CONSENTS_ABSOLUTE, token=token)
        assert call(client, token, proof, path=CONSENTS_URL + "?status=active").status_code == 200

    def test_a_bound_token_used_as_a_bearer_is_refused(self, client: Client, mairie_client: Consumer, key: DpopKey):
        token = dpop_token(client, mairie_client, key)

        response = call(client, token, None, scheme="Bearer")

        assert response.status_code == 401
        assert response.json()["code"] == "invalid_dpop_proof"
        assert response["WWW-Authenticate"].startswith('DPoP error="invalid_dpop_proof"')
        assert refusals() == ["bearer_use_of_dpop_token"]

    def test_a_bound_token_used_with_another_key_is_refused(
        self, client: Client, mairie_client: Consumer, key: DpopKey
    ):
        token = dpop_token(client, mairie_client, key)
        thief = DpopKey()

        response = call(client, token, thief.proof("GET", CONSENTS_ABSOLUTE, token=token))

        assert response.status_code == 401
        assert response.json()["code"] == "invalid_dpop_proof"
        assert refusals() == ["key_mismatch"]

    def test_a_bearer_token_sent_with_the_dpop_scheme_is_refused(
        self, client: Client, mairie_client: Consumer, key: DpopKey
    ):
        token = mairie_client.token(client, "consents:read")

        response = call(client, token, key.proof("GET", CONSENTS_ABSOLUTE, token=token))

        assert response.status_code == 401
        assert refusals() == ["token_not_bound"]

    @pytest.mark.parametrize(
        ("proof_of", "reason"),
        [
            (lambda key, token: key.proof("GET", CONSENTS_ABSOLUTE), "ath_mismatch"),
            (lambda key, token: key.proof("GET", CONSENTS_ABSOLUTE, token=token + "x"), "ath_mismatch"),
            (lambda key, token: key.proof("POST", CONSENTS_ABSOLUTE, token=token), "htm_mismatch"),
            (lambda key, token: key.proof("GET", "http://testserver/api/v1/exchanges", token=token), "htu_mismatch"),
            (
                lambda key, token: key.proof("GET", CONSENTS_ABSOLUTE, token=token, iat=int(time.time()) - 120),
                "iat_stale",
            ),
            (lambda key, token: None, "proof_missing"),
        ],
    )
    def test_a_bad_proof_is_refused(
        self,
        client: Client,
        mairie_client: Consumer,
        key: DpopKey,
        proof_of: Callable[[DpopKey, str], str | None],
        reason: str,
    ):
        token = dpop_token(client, mairie_client, key)

        response = call(client, token, proof_of(key, token))

        assert response.status_code == 401
        assert response.json()["code"] == "invalid_dpop_proof"
        assert response["Content-Type"] == "application/problem+json"
        assert refusals() == [reason]

    def test_a_strangers_unknown_token_is_refused_without_filling_the_trail(
        self, db: None, client: Client, key: DpopKey
    ):
        response = call(client, "made-up-token", key.proof("GET", CONSENTS_ABSOLUTE, token="made-up-token"))

        assert response.status_code == 401
        assert refusals() == []

    def test_a_replayed_proof_is_refused(self, client: Client, mairie_client: Consumer, key: DpopKey):
        token = dpop_token(client, mairie_client, key)
        proof = key.proof("GET", CONSENTS_ABSOLUTE, token=token)
        assert call(client, token, proof).status_code == 200

        response = call(client, token, proof)

        assert response.status_code == 401
        assert refusals() == ["jti_replayed"]

    def test_a_proof_without_the_nonce_gets_one(self, client: Client, mairie_client: Consumer, key: DpopKey):
        token = dpop_token(client, mairie_client, key)

        response = call(client, token, key.proof("GET", CONSENTS_ABSOLUTE, token=token, nonce=None))

        assert response.status_code == 401
        assert response.json()["code"] == "use_dpop_nonce"
        assert response["WWW-Authenticate"].startswith('DPoP error="use_dpop_nonce"')
        nonce = response["DPoP-Nonce"]
        retried = call(client, token, key.proof("GET", CONSENTS_ABSOLUTE, token=token, nonce=nonce))
        assert retried.status_code == 200


class TestBoundCodes:
    def code_for(self, client: Client, consumer: Consumer, alice: Citizen, jkt: str) -> tuple[str, str]:
        login_citizen(client, alice)
        verifier, challenge = pkce_pair()
        query = authorize_query(consumer, challenge, dpop_jkt=jkt)
        # The hidden dpop_jkt field carries the key from the screen to the decision.
        response = client.post(
            "/oauth/authorize/?" + "&".join(f"{k}={v}" for k, v in query.items()),
            {**query, "allow": "on"},
        )
        location = urlsplit(response["Location"])
        return parse_qs(location.query)["code"][0], verifier

    def redeem(self, client: Client, consumer: Consumer, code: str, verifier: str, proof: str | None) -> Any:
        extra = {"HTTP_DPOP": proof} if proof is not None else {}
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT_URI,
            "code_verifier": verifier,
        }
        return client.post(TOKEN_URL, data, HTTP_AUTHORIZATION=consumer.basic, **extra)

    def test_a_code_bound_on_the_authorization_request_is_redeemed_only_with_that_key(
        self, client: Client, mairie_web_client: Consumer, alice: Citizen, key: DpopKey
    ):
        code, verifier = self.code_for(client, mairie_web_client, alice, key.jkt)

        refused = self.redeem(client, mairie_web_client, code, verifier, DpopKey().proof("POST", TOKEN_ABSOLUTE))
        assert refused.json()["error"] == "invalid_dpop_proof"
        assert refusals() == ["key_not_bound_to_code"]
        without = self.redeem(client, mairie_web_client, code, verifier, None)
        assert without.json()["error"] == "invalid_dpop_proof"

        response = self.redeem(client, mairie_web_client, code, verifier, key.proof("POST", TOKEN_ABSOLUTE))
        assert response.status_code == 200, response.content
        assert response.json()["token_type"] == "DPoP"
        assert DpopBinding.objects.get().jkt == key.jkt

    def test_a_malformed_dpop_jkt_is_refused_at_the_authorization_endpoint(
        self, client: Client, mairie_web_client: Consumer, alice: Citizen
    ):
        login_citizen(client, alice)
        response = client.get("/oauth/authorize/", authorize_query(mairie_web_client, pkce_pair()[1], dpop_jkt="short"))
        assert response.status_code == 302
        assert parse_qs(urlsplit(response["Location"]).query)["error"] == ["invalid_request"]


def test_a_proof_for_an_unused_key_type_is_refused(client: Client, mairie_client: Consumer):
    rsa = DpopKey(key=new_key("RS256"))
    response = dpop_token_response(client, mairie_client, rsa.proof("POST", TOKEN_ABSOLUTE))
    assert response.json()["error"] == "invalid_dpop_proof"
    assert refusals() == ["algorithm_not_allowed"]


@pytest.mark.parametrize("alg", ["EdDSA", "PS256"])
def test_proofs_by_eddsa_and_ps256_keys_are_accepted(client: Client, mairie_client: Consumer, alg: str):
    key = DpopKey(key=new_key(alg))
    token = dpop_token(client, mairie_client, key)
    assert call(client, token, key.proof("GET", CONSENTS_ABSOLUTE, token=token)).status_code == 200


class TestReplayCacheDown:
    @pytest.fixture
    def redis_unreachable(self, settings: Any) -> Any:
        # A real refused connection (nothing listens on port 1), not a mock.
        replay._redis.cache_clear()
        settings.REDIS_URL = "redis://127.0.0.1:1/0"
        yield
        replay._redis.cache_clear()

    def test_a_proof_whose_replay_cannot_be_ruled_out_is_refused(
        self, client: Client, mairie_client: Consumer, key: DpopKey, redis_unreachable: None
    ):
        response = dpop_token_response(client, mairie_client, key.proof("POST", TOKEN_ABSOLUTE))

        assert response.json()["error"] == "invalid_dpop_proof"
        assert AccessToken.objects.count() == 0
        assert refusals() == ["replay_cache_unavailable"]


def test_an_asynchronous_exchange_is_proved_like_any_call(client: Client, mairie_client: Consumer, key: DpopKey):
    token = dpop_token(client, mairie_client, key)
    url = "http://testserver/api/v1/exchanges"

    wrong_method = client.post(
        "/api/v1/exchanges",
        {"attestation_type": "cnaf.quotient-familial"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"DPoP {token}",
        HTTP_DPOP=key.proof("GET", url, token=token),
    )

    assert wrong_method.status_code == 401
    assert refusals() == ["htm_mismatch"]
