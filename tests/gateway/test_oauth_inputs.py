"""The OAuth endpoints facing values the database cannot store (a NUL, an unpaired surrogate, too
many characters): the OAuth error each parameter calls for, never a 500, and nothing stored."""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client
from oauth2_provider.models import AccessToken, Grant
from oauth2_provider.oauth2_backends import get_oauthlib_core
from oauthlib.common import Request as OauthlibRequest

from consent.models import Citizen, Consent
from gateway.oauth.validators import GatewayOAuth2Validator
from tests.gateway.conftest import REDIRECT_URI, Consumer, login_citizen, pkce_pair
from tests.gateway.test_oauth import approve, authorize_query, redeem
from tests.gateway.test_oauth_endpoints import (
    INTROSPECT_URL,
    REVOKE_URL,
    TOKEN_URL,
    assert_invalid_client,
    tokens_issued,
)

NUL = "nul\x00byte"
# Longer than any client id or code the database holds (255 characters).
LONG = "x" * 300
SURROGATE = "lone\ud800surrogate"


def raw_basic(client_id: str, secret: str) -> str:
    # As sent, any bytes: the test client cannot encode a NUL in a form, but a header carries one.
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


class TestValuesTheDatabaseCannotStore:
    @pytest.mark.parametrize("value", [NUL, LONG])
    @pytest.mark.parametrize("url", [TOKEN_URL, INTROSPECT_URL, REVOKE_URL])
    def test_a_client_id_in_the_body_is_an_unknown_client(self, client: Client, catalogue: None, url: str, value: str):
        data = {"grant_type": "client_credentials", "token": "t", "client_id": value, "client_secret": "s"}

        response = client.post(url, data)

        assert_invalid_client(response)
        assert not AccessToken.objects.exists()

    @pytest.mark.parametrize("url", [TOKEN_URL, INTROSPECT_URL, REVOKE_URL])
    def test_a_client_id_or_secret_in_the_basic_header_is_an_unknown_client(
        self, client: Client, mairie_client: Consumer, url: str
    ):
        data = {"grant_type": "client_credentials", "token": "t"}
        for authorization in (raw_basic(NUL, mairie_client.secret), raw_basic(mairie_client.client_id, NUL)):
            response = client.post(url, data, HTTP_AUTHORIZATION=authorization)

            assert_invalid_client(response)
        assert not AccessToken.objects.exists()
        assert tokens_issued() == 0

    @pytest.mark.parametrize("url", [TOKEN_URL, INTROSPECT_URL, REVOKE_URL])
    def test_a_value_in_the_query_of_a_post_is_invalid_request(self, client: Client, mairie_client: Consumer, url: str):
        response = client.post(
            url + "?" + urlencode({"client_id": NUL}),
            {"grant_type": "client_credentials", "token": "t"},
            HTTP_AUTHORIZATION=mairie_client.basic,
        )

        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"
        assert not AccessToken.objects.exists()

    def test_a_secret_in_the_body_is_a_wrong_secret(self, client: Client, mairie_client: Consumer):
        data = {"grant_type": "client_credentials", "client_id": mairie_client.client_id, "client_secret": NUL}

        response = client.post(TOKEN_URL, data)

        assert_invalid_client(response)
        assert not AccessToken.objects.exists()

    @pytest.mark.parametrize("code", [NUL, LONG])
    def test_a_code_is_invalid_grant(self, client: Client, mairie_web_client: Consumer, code: str):
        response = redeem(client, mairie_web_client, code, pkce_pair()[0])

        assert response.status_code == 400, response.content
        assert response.json()["error"] == "invalid_grant"
        assert not AccessToken.objects.exists()
        assert tokens_issued() == 0

    @pytest.mark.parametrize(
        "extra", [{"resource": "https://rs.example.fr/\x00"}, {"scope": "consents:read\x00"}, {"resource": LONG * 10}]
    )
    def test_any_other_parameter_of_a_token_request_is_invalid_request(
        self, client: Client, mairie_client: Consumer, extra: dict[str, str]
    ):
        response = client.post(
            TOKEN_URL, {"grant_type": "client_credentials", **extra}, HTTP_AUTHORIZATION=mairie_client.basic
        )

        assert response.status_code == 400, response.content
        assert response.json()["error"] == "invalid_request"
        assert not AccessToken.objects.exists()

    @pytest.mark.parametrize("value", [NUL, LONG])
    def test_a_client_id_at_the_authorization_endpoint_is_refused_without_redirecting(
        self, client: Client, alice: Citizen, mairie_web_client: Consumer, value: str
    ):
        login_citizen(client, alice)

        response = client.get("/oauth/authorize/", authorize_query(mairie_web_client, pkce_pair()[1], client_id=value))

        assert response.status_code == 400
        assert not Grant.objects.exists()
        assert not Consent.objects.exists()

    @pytest.mark.parametrize(
        "overrides", [{"code_challenge": NUL}, {"code_challenge": "a" * 129}, {"nonce": NUL}, {"state": NUL}]
    )
    def test_any_other_authorization_parameter_is_invalid_request_sent_back_to_the_client(
        self, client: Client, alice: Citizen, mairie_web_client: Consumer, overrides: dict[str, str]
    ):
        login_citizen(client, alice)
        query = authorize_query(mairie_web_client, pkce_pair()[1], **overrides)

        shown = client.get("/oauth/authorize/", query)
        posted = approve(client, query)

        assert shown.status_code == 302, shown.content
        location = urlsplit(shown["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
        assert parse_qs(location.query)["error"] == ["invalid_request"]
        assert posted.status_code in (302, 400)
        assert not Grant.objects.exists()
        assert not Consent.objects.exists()

    def test_a_lone_surrogate_is_refused_as_any_other_unstorable_value(
        self, mairie_client: Consumer, mairie_web_client: Consumer
    ):
        # Django decodes form and query bytes with replacement characters, so no surrogate reaches
        # the views over HTTP; the oauthlib server, though, takes any Python string.
        server = get_oauthlib_core().server
        token_uri = "https://testserver/oauth/token/"

        _, by_client_id, client_status = server.create_token_response(
            token_uri, "POST", [("grant_type", "client_credentials"), ("client_id", SURROGATE), ("client_secret", "s")]
        )
        _, by_code, code_status = server.create_token_response(
            token_uri,
            "POST",
            [("grant_type", "authorization_code"), ("code", SURROGATE), ("redirect_uri", REDIRECT_URI)],
            {"Authorization": mairie_web_client.basic},
        )

        assert (client_status, json.loads(by_client_id)["error"]) == (401, "invalid_client")
        assert (code_status, json.loads(by_code)["error"]) == (400, "invalid_grant")
        authorize = OauthlibRequest("https://testserver/oauth/authorize/")
        assert GatewayOAuth2Validator().validate_client_id(SURROGATE, authorize) is False
        assert not AccessToken.objects.exists()
