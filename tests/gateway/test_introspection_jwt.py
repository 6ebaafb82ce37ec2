"""Introspection answered as a signed JWT (RFC 9701), for the token's client and for a provider
checking who asks for its data: signed by the gateway's published key, for the client that asked."""

from __future__ import annotations

import json
from collections.abc import Callable

from django.test import Client
from joserfc import jwt
from joserfc.jwk import KeySet

from core.jose import jwks
from providers.models import Organisation
from tests.gateway.conftest import QF, Consumer
from tests.gateway.fapi import DpopKey

JWT_TYPE = "token-introspection+jwt"


def introspect_as_jwt(client: Client, caller: Consumer, token: str) -> dict[str, object]:
    response = client.post(
        "/oauth/introspect/", {"token": token}, HTTP_AUTHORIZATION=caller.basic, HTTP_ACCEPT=f"application/{JWT_TYPE}"
    )
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == f"application/{JWT_TYPE}"
    decoded = jwt.decode(response.content, KeySet.import_key_set(jwks()), algorithms=["EdDSA"])
    assert decoded.header["typ"] == JWT_TYPE
    assert decoded.claims["iss"] == "http://testserver"
    assert decoded.claims["aud"] == caller.client_id
    return dict(decoded.claims["token_introspection"])


def test_a_provider_gets_a_signed_answer_naming_the_consumer_and_its_key(
    client: Client, mairie_client: Consumer, cnaf: Organisation, make_consumer: Callable[..., Consumer]
):
    key = DpopKey()
    response = client.post(
        "/oauth/token/",
        {"grant_type": "client_credentials", "scope": f"consents:read attestations:{QF}"},
        HTTP_AUTHORIZATION=mairie_client.basic,
        HTTP_DPOP=key.proof("POST", "http://testserver/oauth/token/"),
    )
    token = response.json()["access_token"]

    answer = introspect_as_jwt(client, make_consumer(cnaf), token)

    assert answer["active"] is True
    assert answer["client_id"] == mairie_client.client_id
    assert answer["scope"] == f"attestations:{QF}"
    assert answer["cnf"] == {"jkt": key.jkt}


def test_a_stranger_gets_a_signed_inactive(
    client: Client, mairie_client: Consumer, cd_rhone: Organisation, make_consumer: Callable[..., Consumer]
):
    token = mairie_client.token(client, "consents:read")

    assert introspect_as_jwt(client, make_consumer(cd_rhone), token) == {"active": False}


def test_without_the_media_type_the_answer_stays_json(client: Client, mairie_client: Consumer):
    token = mairie_client.token(client, "consents:read")
    response = client.post("/oauth/introspect/", {"token": token}, HTTP_AUTHORIZATION=mairie_client.basic)
    assert json.loads(response.content)["active"] is True


def test_the_metadata_names_the_signing_algorithm(client: Client, mairie_client: Consumer):
    metadata = client.get("/.well-known/oauth-authorization-server").json()
    assert metadata["introspection_signing_alg_values_supported"] == ["EdDSA"]
