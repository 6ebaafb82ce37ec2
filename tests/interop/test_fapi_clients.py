"""FAPI 2.0 against clients nobody here wrote, over real HTTP on the live server:

- requests-oauth2client with client_credentials and DPoP, then the exchange API with DPoP proofs
  (its authorization code flow with PAR, PKCE and DPoP, the citizen in Chromium, is
  tests/e2e/test_fapi_authorization_code.py);
- Authlib's private_key_jwt client authentication.

Both clients are set to require what they use: a client set to require DPoP and PAR gets and
uses its tokens no other way (tests/gateway/test_dpop.py and test_par.py show the refusals).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from joserfc.jwk import ECKey
from jwskate import Jwk
from oauth2_provider.models import Application
from pytest_django.live_server_helper import LiveServer
from requests_oauth2client import DPoPToken, OAuth2Client
from requests_oauth2client import PrivateKeyJwt as RocPrivateKeyJwt

from consent.models import Citizen, Consent
from gateway.services.clients import NewClient, client_create
from providers.models import Organisation
from tests.interop.test_oauth_clients import metadata, verify_with_joserfc

QF = "cnaf.quotient-familial"
REDIRECT_URI = "https://client.example.fr/callback"

pytestmark = [pytest.mark.interop, pytest.mark.django_db(transaction=True)]


def fapi_client(
    organisation: Organisation, private_jwk: Jwk, *, grant: str = Application.GRANT_CLIENT_CREDENTIALS
) -> NewClient:
    return client_create(
        organisation=organisation,
        name="FAPI client",
        grant=grant,
        redirect_uris=[REDIRECT_URI] if grant == Application.GRANT_AUTHORIZATION_CODE else [],
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [private_jwk.public_jwk().to_dict()]},
        require_dpop=True,
        require_par=grant == Application.GRANT_AUTHORIZATION_CODE,
    )


def oauth2_client(base: str, client_id: str, private_jwk: Jwk) -> OAuth2Client:
    endpoints = metadata(base)
    return OAuth2Client(
        token_endpoint=endpoints["token_endpoint"],
        authorization_endpoint=endpoints["authorization_endpoint"],
        pushed_authorization_request_endpoint=endpoints["pushed_authorization_request_endpoint"],
        issuer=endpoints["issuer"],
        authorization_response_iss_parameter_supported=True,
        # FAPI 2.0 §5.3.2.1: the issuer as the assertion's audience (the library's default is the
        # endpoint's URL).
        auth=RocPrivateKeyJwt(client_id, private_jwk, alg="ES256", aud=endpoints["issuer"]),
        redirect_uri=REDIRECT_URI,
        dpop_bound_access_tokens=True,
        # The live server speaks http on localhost; production is https.
        testing=True,
    )


def test_client_credentials_with_private_key_jwt_and_dpop(
    live_server: LiveServer, mairie: Organisation, alice: Citizen, make_consent: Callable[..., Consent]
) -> None:
    private_jwk = Jwk.generate(alg="ES256", kid="mairie-2")
    registered = fapi_client(mairie, private_jwk)
    consent = make_consent(alice, mairie)
    oauth = oauth2_client(live_server.url, registered.application.client_id, private_jwk)

    token = oauth.client_credentials(scope=f"attestations:{QF}")

    assert isinstance(token, DPoPToken)
    # Every call is proved anew (a fresh jti each time), the server's nonce handled by the library.
    for _ in range(2):
        response = requests.get(
            f"{live_server.url}/api/v1/attestations/{QF}", params={"consent": str(consent.pk)}, auth=token, timeout=10
        )
        assert response.status_code == 200, response.text
    verify_with_joserfc(live_server.url, response.json())
    # Without a proof the client gets no token at all.
    refused = requests.post(
        metadata(live_server.url)["token_endpoint"],
        data={"grant_type": "client_credentials", "scope": f"attestations:{QF}"},
        auth=RocPrivateKeyJwt(registered.application.client_id, private_jwk, alg="ES256", aud=live_server.url),
        timeout=10,
    )
    assert refused.json()["error"] == "invalid_dpop_proof"


def test_private_key_jwt_with_authlib(live_server: LiveServer, mairie: Organisation) -> None:
    key = ECKey.generate_key("P-256", parameters={"kid": "authlib-1", "use": "sig"})
    registered = client_create(
        organisation=mairie,
        name="Authlib client",
        token_endpoint_auth_method="private_key_jwt",
        jwks={"keys": [key.as_dict(private=False)]},
    )
    endpoints = metadata(live_server.url)
    # Authlib names the audience `token_endpoint`; FAPI 2.0 wants the issuer there. Its default
    # lifetime is an hour: the gateway takes 60 s at most.
    auth_method = PrivateKeyJWT(token_endpoint=endpoints["issuer"], alg="ES256", claims={"exp": int(time.time()) + 50})
    with OAuth2Session(
        registered.application.client_id,
        key,
        token_endpoint_auth_method=auth_method,
        scope="consents:read",
    ) as session:
        token: dict[str, Any] = session.fetch_token(endpoints["token_endpoint"], grant_type="client_credentials")
        listed = session.get(f"{live_server.url}/api/v1/consents")

    assert token["token_type"] == "Bearer"
    assert listed.status_code == 200, listed.text
