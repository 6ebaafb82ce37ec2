"""The OAuth endpoints where clients authenticate: introspection (RFC 7662) only for the token's
own client or the provider of a type it is scoped to, and the HTTP Basic challenge on a failed
client authentication."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken

from consent.models import Citizen
from providers.models import Organisation
from tests.gateway.conftest import QF, Consumer, basic_auth, login_citizen, pkce_pair
from tests.gateway.test_oauth import approve, authorize_query, code_from, redeem

TOKEN_URL, INTROSPECT_URL, REVOKE_URL = "/oauth/token/", "/oauth/introspect/", "/oauth/revoke_token/"


def assert_invalid_client(response: Any) -> None:
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_client"
    # RFC 6749 §5.2: the challenge names the scheme the client may authenticate with.
    assert response["WWW-Authenticate"].startswith("Basic realm=")


class TestIntrospection:
    def introspect(self, client: Client, caller: Consumer, token: str) -> Any:
        return client.post(INTROSPECT_URL, {"token": token}, HTTP_AUTHORIZATION=caller.basic)

    def test_get_is_refused_even_with_credentials(self, client: Client, mairie_client: Consumer):
        token = mairie_client.token(client, "consents:read")

        response = client.get(
            INTROSPECT_URL + "?" + urlencode({"token": token}), HTTP_AUTHORIZATION=mairie_client.basic
        )

        assert response.status_code == 405
        assert response["Allow"] == "POST"
        assert response.json()["error"] == "invalid_request"
        assert token not in response.content.decode()

    def test_a_token_in_the_query_of_a_post_is_refused(self, client: Client, mairie_client: Consumer):
        token = mairie_client.token(client, "consents:read")

        response = client.post(
            INTROSPECT_URL + "?" + urlencode({"token": token}), {}, HTTP_AUTHORIZATION=mairie_client.basic
        )

        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"

    def test_the_tokens_own_client_reads_it_without_any_citizen_identifier(
        self, client: Client, alice: Citizen, mairie_web_client: Consumer
    ):
        login_citizen(client, alice)
        verifier, challenge = pkce_pair()
        code = code_from(approve(client, authorize_query(mairie_web_client, challenge)))
        token = redeem(client, mairie_web_client, code, verifier).json()["access_token"]
        row = AccessToken.objects.get()
        assert row.user is not None

        response = self.introspect(client, mairie_web_client, token)

        assert response.status_code == 200
        assert response["Cache-Control"] == "no-store"
        body = response.json()
        assert body == {
            "active": True,
            "scope": f"attestations:{QF}",
            "client_id": mairie_web_client.client_id,
            "token_type": "Bearer",
            "exp": int(row.expires.timestamp()),
            "iat": int(row.created.timestamp()),
        }
        for identifier in (str(alice.pk), alice.ref, row.user.get_username()):
            assert identifier not in response.content.decode()

    def test_another_consumer_learns_nothing(
        self, client: Client, mairie_client: Consumer, cd_rhone: Organisation, make_consumer: Callable[..., Consumer]
    ):
        token = mairie_client.token(client, f"attestations:{QF} consents:read")

        response = self.introspect(client, make_consumer(cd_rhone), token)

        assert response.status_code == 200
        assert response.json() == {"active": False}

    def test_the_provider_of_a_type_in_the_scope_sees_its_own_scopes_only(
        self, client: Client, mairie_client: Consumer, cnaf: Organisation, make_consumer: Callable[..., Consumer]
    ):
        token = mairie_client.token(client, f"attestations:{QF} attestations:dgfip.avis-imposition consents:read")

        body = self.introspect(client, make_consumer(cnaf), token).json()

        assert body["active"] is True
        assert body["scope"] == f"attestations:{QF}"
        assert body["client_id"] == mairie_client.client_id

    def test_a_provider_whose_types_the_token_does_not_name_learns_nothing(
        self, client: Client, mairie_client: Consumer, dgfip: Organisation, make_consumer: Callable[..., Consumer]
    ):
        token = mairie_client.token(client, f"attestations:{QF} consents:read")

        assert self.introspect(client, make_consumer(dgfip), token).json() == {"active": False}

    def test_an_expired_or_unknown_token_is_inactive(self, client: Client, mairie_client: Consumer):
        token = mairie_client.token(client, "consents:read")
        AccessToken.objects.update(expires=timezone.now() - dt.timedelta(seconds=1))

        assert self.introspect(client, mairie_client, token).json() == {"active": False}
        assert self.introspect(client, mairie_client, "no-such-token").json() == {"active": False}

    @pytest.mark.parametrize("url", [TOKEN_URL, INTROSPECT_URL, REVOKE_URL])
    def test_a_wrong_secret_is_invalid_client_with_a_basic_challenge(
        self, client: Client, mairie_client: Consumer, url: str
    ):
        token = mairie_client.token(client, "consents:read")
        data = {"grant_type": "client_credentials", "token": token}

        by_header = client.post(url, data, HTTP_AUTHORIZATION=basic_auth(mairie_client.client_id, "wrong"))
        in_body = client.post(url, {**data, "client_id": mairie_client.client_id, "client_secret": "wrong"})

        assert_invalid_client(by_header)
        assert_invalid_client(in_body)
        # Nothing revoked by a client that failed to authenticate.
        assert AccessToken.objects.count() == 1
