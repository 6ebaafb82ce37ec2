"""`private_key_jwt` client authentication (RFC 7523): a client registered with its public keys
signs a short-lived assertion for the gateway's issuer; every malformed, misdirected, stale or
replayed assertion is `invalid_client`, issues nothing, and is in the trail with its reason."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from joserfc.jwk import RSAKey
from oauth2_provider.models import AccessToken

from audit.models import AuditEvent, EventType
from core.errors import ValidationError
from gateway.services.clients import client_create
from providers.models import ApiClient, Organisation
from tests.gateway.conftest import Consumer, basic_auth
from tests.gateway.fapi import ISSUER, JWT_BEARER, TOKEN_URL, assertion, assertion_body, new_key, public_jwks
from tests.processes import free_port


def refusals() -> list[str]:
    return [event.detail["reason"] for event in AuditEvent.objects.filter(type=EventType.OAUTH_REFUSED).order_by("id")]


def assert_refused(response: Any, reason: str) -> None:
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_client"
    assert AccessToken.objects.count() == 0
    assert refusals()[-1:] == [reason]


@pytest.fixture
def key() -> Any:
    return new_key("ES256")


@pytest.fixture
def keyed_client(mairie: Organisation, make_consumer: Callable[..., Consumer], key: Any) -> Consumer:
    return make_consumer(mairie, token_endpoint_auth_method="private_key_jwt", jwks=public_jwks(key))


def token_with(client: Client, body: dict[str, str], **extra: Any) -> Any:
    return client.post(TOKEN_URL, {"grant_type": "client_credentials", "scope": "consents:read", **body}, **extra)


class TestAcceptedAssertions:
    @pytest.mark.parametrize("alg", ["ES256", "EdDSA", "PS256"])
    def test_it_issues_a_token_for_an_assertion_signed_with_each_allowed_algorithm(
        self, client: Client, mairie: Organisation, make_consumer: Callable[..., Consumer], alg: str
    ):
        key = new_key(alg)
        consumer = make_consumer(mairie, token_endpoint_auth_method="private_key_jwt", jwks=public_jwks(key))

        response = token_with(client, assertion_body(consumer.client_id, key))

        assert response.status_code == 200, response.content
        assert response.json()["token_type"] == "Bearer"
        token = AccessToken.objects.get()
        assert token.application_id == consumer.application.pk
        assert AuditEvent.objects.filter(type=EventType.TOKEN_ISSUED).count() == 1

    def test_it_accepts_the_issuer_in_a_one_element_audience_and_a_matching_client_id(
        self, client: Client, keyed_client: Consumer, key: Any
    ):
        body = assertion_body(keyed_client.client_id, key, aud=[ISSUER])
        response = token_with(client, {**body, "client_id": keyed_client.client_id})
        assert response.status_code == 200, response.content

    def test_it_accepts_an_iat_a_few_seconds_ahead_as_fapi_asks(self, client: Client, keyed_client: Consumer, key: Any):
        now = int(time.time())
        body = assertion_body(keyed_client.client_id, key, iat=now + 8, nbf=now + 8, exp=now + 50)
        assert token_with(client, body).status_code == 200


class TestRefusedAssertions:
    def test_a_replayed_jti_is_refused(self, client: Client, keyed_client: Consumer, key: Any):
        body = assertion_body(keyed_client.client_id, key)
        assert token_with(client, body).status_code == 200
        AccessToken.objects.all().delete()

        assert_refused(token_with(client, body), "jti_replayed")

    # Claims made when the test runs (collection may come minutes earlier): `now` is that moment.
    @pytest.mark.parametrize(
        ("claims", "reason"),
        [
            (lambda now: {"aud": "http://testserver/oauth/token/"}, "audience_mismatch"),
            (lambda now: {"aud": [ISSUER, "https://other.example"]}, "audience_mismatch"),
            (lambda now: {"aud": None}, "audience_mismatch"),
            (lambda now: {"exp": None}, "exp_missing"),
            (lambda now: {"exp": now + 300}, "exp_too_far"),
            (lambda now: {"exp": now - 1}, "expired"),
            (lambda now: {"iat": now + 120}, "iat_future"),
            (lambda now: {"jti": None}, "jti_missing"),
            (lambda now: {"iss": "someone-else"}, "iss_sub_mismatch"),
        ],
    )
    def test_a_bad_claim_is_refused(
        self, client: Client, keyed_client: Consumer, key: Any, claims: Callable[[int], dict[str, Any]], reason: str
    ):
        body = assertion_body(keyed_client.client_id, key, **claims(int(time.time())))
        assert_refused(token_with(client, body), reason)

    def test_a_signature_by_another_key_with_the_registered_kid_is_refused(
        self, client: Client, keyed_client: Consumer, key: Any
    ):
        impostor = new_key("ES256", kid=key.kid)
        assert_refused(token_with(client, assertion_body(keyed_client.client_id, impostor)), "bad_signature")

    def test_an_unknown_kid_is_refused(self, client: Client, keyed_client: Consumer):
        assert_refused(token_with(client, assertion_body(keyed_client.client_id, new_key("ES256"))), "unknown_kid")

    @pytest.mark.parametrize("alg", ["RS256", "HS256", "none"])
    def test_an_algorithm_outside_eddsa_es256_ps256_is_refused(self, client: Client, keyed_client: Consumer, alg: str):
        header, payload, _ = assertion(keyed_client.client_id, new_key("PS256")).split(".")
        forged_header = json.dumps({"alg": alg, "kid": "x"}).encode()
        head = base64.urlsafe_b64encode(forged_header).rstrip(b"=").decode()
        body = {"client_assertion_type": JWT_BEARER, "client_assertion": f"{head}.{payload}.c2ln"}
        assert_refused(token_with(client, body), "algorithm_not_allowed")

    def test_a_garbled_assertion_and_a_wrong_assertion_type_are_refused(self, client: Client, keyed_client: Consumer):
        assert_refused(
            token_with(client, {"client_assertion_type": JWT_BEARER, "client_assertion": "a.b"}), "jwt_malformed"
        )
        body = {"client_assertion_type": "urn:example:other", "client_assertion": "a.b.c"}
        assert_refused(token_with(client, body), "assertion_type_unsupported")

    def test_an_assertion_beside_a_secret_is_refused(self, client: Client, keyed_client: Consumer, key: Any):
        response = token_with(
            client,
            assertion_body(keyed_client.client_id, key),
            HTTP_AUTHORIZATION=basic_auth(keyed_client.client_id, keyed_client.secret),
        )
        assert_refused(response, "several_auth_methods")

    def test_a_client_id_that_contradicts_the_assertion_is_refused(
        self, client: Client, keyed_client: Consumer, mairie_client: Consumer, key: Any
    ):
        body = {**assertion_body(keyed_client.client_id, key), "client_id": mairie_client.client_id}
        assert_refused(token_with(client, body), "client_id_mismatch")


class TestOneMethodPerClient:
    def test_a_key_client_cannot_use_its_secret(self, client: Client, keyed_client: Consumer):
        response = token_with(client, {}, HTTP_AUTHORIZATION=keyed_client.basic)
        assert_refused(response, "auth_method_not_registered")
        assert AuditEvent.objects.get(type=EventType.OAUTH_REFUSED).consumer == keyed_client.organisation.siret

    def test_a_secret_client_cannot_send_an_assertion(self, client: Client, mairie_client: Consumer, key: Any):
        ApiClient.objects.filter(application=mairie_client.application).update(jwks=public_jwks(key))
        assert_refused(token_with(client, assertion_body(mairie_client.client_id, key)), "auth_method_not_registered")

    def test_a_secret_client_keeps_its_secret(self, client: Client, mairie_client: Consumer):
        assert mairie_client.token_response(client, "consents:read").status_code == 200


class JwksServer:
    """The client's own server publishing its JWK set (a real HTTP server on a free port)."""

    def __init__(self) -> None:
        self.jwks: dict[str, Any] = {"keys": []}
        self.hits = 0
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.hits += 1
                body = json.dumps(owner.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/jwks.json"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def jwks_server(settings: Any) -> Iterator[JwksServer]:
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    server = JwksServer()
    yield server
    server.server.shutdown()


class TestJwksUri:
    def test_the_keys_are_fetched_once_and_fetched_again_for_a_rotated_kid(
        self, client: Client, mairie: Organisation, make_consumer: Callable[..., Consumer], jwks_server: JwksServer
    ):
        first, second = new_key("ES256"), new_key("EdDSA")
        jwks_server.jwks = public_jwks(first)
        consumer = make_consumer(mairie, token_endpoint_auth_method="private_key_jwt", jwks_uri=jwks_server.url)

        assert token_with(client, assertion_body(consumer.client_id, first)).status_code == 200
        assert token_with(client, assertion_body(consumer.client_id, first)).status_code == 200
        assert jwks_server.hits == 1

        jwks_server.jwks = public_jwks(second)
        assert token_with(client, assertion_body(consumer.client_id, second)).status_code == 200
        assert jwks_server.hits == 2
        # An unknown kid again soon after: no new fetch, refused.
        response = token_with(client, assertion_body(consumer.client_id, new_key("ES256")))
        assert response.status_code == 401
        assert jwks_server.hits == 2
        assert refusals() == ["unknown_kid"]


class TestRegistration:
    def test_the_command_registers_a_key_client_and_prints_no_secret(self, mairie: Organisation, key: Any):
        out = StringIO()
        call_command(
            "create_client",
            organisation=mairie.siret,
            name="Keyed",
            auth_method="private_key_jwt",
            jwks=json.dumps(public_jwks(key)),
            require_dpop=True,
            json=True,
            stdout=out,
        )
        created = json.loads(out.getvalue())
        assert "client_secret" not in created
        api_client = ApiClient.objects.get(application__client_id=created["client_id"])
        assert api_client.token_endpoint_auth_method == "private_key_jwt"
        assert api_client.require_dpop is True
        assert api_client.jwks == public_jwks(key)

    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"token_endpoint_auth_method": "private_key_jwt"}, "jwks"),
            ({"token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": "nope"}}, "jwks"),
            ({"token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://client.example/jwks"}, "jwks_uri"),
            ({"token_endpoint_auth_method": "client_secret_jwt"}, "token_endpoint_auth_method"),
            ({"require_encrypted_attestations": True}, "require_encrypted_attestations"),
        ],
    )
    def test_it_refuses_settings_that_cannot_work(self, mairie: Organisation, kwargs: dict[str, Any], field: str):
        with pytest.raises(ValidationError) as caught:
            client_create(organisation=mairie, name="Bad", **kwargs)
        assert field in caught.value.extra["errors"]
        assert not ApiClient.objects.filter(application__name="Bad").exists()

    def test_it_refuses_a_private_key_in_the_jwks(self, mairie: Organisation, key: Any):
        with pytest.raises(ValidationError) as caught:
            client_create(
                organisation=mairie,
                name="Leaky",
                token_endpoint_auth_method="private_key_jwt",
                jwks={"keys": [key.as_dict(private=True)]},
            )
        assert "public keys only" in caught.value.extra["errors"]["jwks"][0]["message"]

    def test_it_refuses_an_rsa_key_under_2048_bits(self, mairie: Organisation):
        small = RSAKey.generate_key(1024, parameters={"use": "sig"}, auto_kid=True)
        with pytest.raises(ValidationError) as caught:
            client_create(
                organisation=mairie,
                name="Small",
                token_endpoint_auth_method="private_key_jwt",
                jwks=public_jwks(small),
            )
        assert "2048" in caught.value.extra["errors"]["jwks"][0]["message"]

    def test_new_clients_outside_demo_mode_authenticate_with_keys(self, settings: Any, mairie: Organisation):
        settings.OAUTH_NEW_CLIENT_AUTH_METHOD = "private_key_jwt"
        with pytest.raises(ValidationError):
            client_create(organisation=mairie, name="No keys")


class TestAdmin:
    def change(self, admin_client: Client, api_client: ApiClient, **fields: Any) -> Any:
        form = {
            "application": api_client.application_id,
            "organisation": api_client.organisation_id,
            "allowed_scopes": api_client.allowed_scopes,
            "token_endpoint_auth_method": api_client.token_endpoint_auth_method,
            "jwks": "null",
            "jwks_uri": "",
            **fields,
        }
        return admin_client.post(f"/admin/providers/apiclient/{api_client.pk}/change/", form)

    def test_an_operator_moves_a_client_to_keys_dpop_and_par(
        self, admin_client: Client, client: Client, mairie_client: Consumer, key: Any
    ):
        api_client = ApiClient.objects.get(application=mairie_client.application)

        response = self.change(
            admin_client,
            api_client,
            token_endpoint_auth_method="private_key_jwt",
            jwks=json.dumps(public_jwks(key)),
            require_dpop="on",
            require_par="on",
        )

        assert response.status_code == 302, response.content.decode()[:2000]
        api_client.refresh_from_db()
        assert (api_client.token_endpoint_auth_method, api_client.require_dpop, api_client.require_par) == (
            "private_key_jwt",
            True,
            True,
        )
        assert_refused(token_with(client, {}, HTTP_AUTHORIZATION=mairie_client.basic), "auth_method_not_registered")

    def test_the_admin_refuses_a_private_key(self, admin_client: Client, mairie_client: Consumer, key: Any):
        api_client = ApiClient.objects.get(application=mairie_client.application)

        response = self.change(
            admin_client,
            api_client,
            token_endpoint_auth_method="private_key_jwt",
            jwks=json.dumps({"keys": [key.as_dict(private=True)]}),
        )

        assert response.status_code == 200
        assert "public keys only" in response.content.decode()
        api_client.refresh_from_db()
        assert api_client.token_endpoint_auth_method == "client_secret_basic"
