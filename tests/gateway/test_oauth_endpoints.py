"""The endpoints where OAuth clients authenticate: client secrets under a fast keyed hash, limits
per client id and per source address, introspection (RFC 7662) only for the token's own client or
the provider of a type it is scoped to, and the Basic challenge of a failed authentication. Values
the database cannot store: tests/gateway/test_oauth_inputs.py."""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from audit.models import AuditEvent, EventType
from consent.models import Citizen
from core import ratelimit
from gateway.oauth.hashers import ClientSecretHasher
from providers.models import Organisation
from tests.gateway.conftest import QF, Consumer, basic_auth, login_citizen, pkce_pair
from tests.gateway.test_oauth import approve, authorize_query, code_from, redeem

TOKEN_URL, INTROSPECT_URL, REVOKE_URL = "/oauth/token/", "/oauth/introspect/", "/oauth/revoke_token/"


def address() -> str:
    """A source address of its own (IPv6 documentation range), so that no other test's requests
    share its per-address count."""
    return f"2001:db8::{secrets.token_hex(2)}:{secrets.token_hex(2)}"


def tokens_issued() -> int:
    return AuditEvent.objects.filter(type=EventType.TOKEN_ISSUED).count()


def assert_invalid_client(response: Any) -> None:
    assert response.status_code == 401, response.content
    assert response.json()["error"] == "invalid_client"
    # RFC 6749 §5.2: the challenge names the scheme the client may authenticate with.
    assert response["WWW-Authenticate"].startswith("Basic realm=")


class TestClientSecrets:
    def test_a_new_secret_is_stored_under_a_keyed_hmac(self, client: Client, settings: Any, mairie_client: Consumer):
        stored = Application.objects.get(pk=mairie_client.application.pk).client_secret

        assert stored.startswith("hmac_sha256$")
        assert mairie_client.secret not in stored
        assert mairie_client.token_response(client, "consents:read").status_code == 200
        # Keyed: under another server key the stored value no longer matches the secret.
        settings.OAUTH_CLIENT_SECRET_KEY = "another-server-key"
        assert_invalid_client(mairie_client.token_response(client, "consents:read"))
        assert AccessToken.objects.count() == 1

    @pytest.mark.usefixtures("production_password_hashers")
    def test_a_pbkdf2_secret_keeps_working_and_is_rehashed_on_its_next_success(
        self, client: Client, mairie_client: Consumer
    ):
        # Stored before the keyed hash (DOT's default hasher; few iterations to keep the test quick).
        legacy = PBKDF2PasswordHasher().encode(mairie_client.secret, "legacysalt", iterations=1000)
        Application.objects.filter(pk=mairie_client.application.pk).update(client_secret=legacy)

        wrong = client.post(
            TOKEN_URL,
            {"grant_type": "client_credentials"},
            HTTP_AUTHORIZATION=basic_auth(mairie_client.client_id, "not-the-secret"),
        )
        assert_invalid_client(wrong)
        assert Application.objects.get(pk=mairie_client.application.pk).client_secret == legacy

        assert mairie_client.token_response(client, "consents:read").status_code == 200
        rehashed = Application.objects.get(pk=mairie_client.application.pk).client_secret
        assert rehashed.startswith("hmac_sha256$")
        assert mairie_client.token_response(client, "consents:read").status_code == 200
        assert Application.objects.get(pk=mairie_client.application.pk).client_secret == rehashed
        assert tokens_issued() == 2

    def test_a_known_and_an_unknown_client_id_cost_one_hmac_each_and_answer_alike(
        self, client: Client, mairie_client: Consumer, monkeypatch: pytest.MonkeyPatch
    ):
        # Spies, not mocks: the real methods run; the test counts which ones.
        checked: list[str] = []
        hmac_verify, pbkdf2_verify = ClientSecretHasher.verify, PBKDF2PasswordHasher.verify
        monkeypatch.setattr(
            ClientSecretHasher, "verify", lambda self, p, e: checked.append("hmac") or hmac_verify(self, p, e)
        )
        monkeypatch.setattr(
            PBKDF2PasswordHasher, "verify", lambda self, p, e: checked.append("pbkdf2") or pbkdf2_verify(self, p, e)
        )
        data = {"grant_type": "client_credentials"}

        known = client.post(TOKEN_URL, data, HTTP_AUTHORIZATION=basic_auth(mairie_client.client_id, "wrong"))
        unknown = client.post(TOKEN_URL, data, HTTP_AUTHORIZATION=basic_auth("no-such-client", "wrong"))

        assert checked == ["hmac", "hmac"]
        assert_invalid_client(known)
        assert_invalid_client(unknown)
        assert known.content == unknown.content


class TestRateLimits:
    @pytest.fixture(autouse=True)
    def one_window(self, monkeypatch: pytest.MonkeyPatch) -> None:
        # The limiter counts in one-minute windows of the wall clock: its clock stands still, so
        # that no test straddles two windows (Redis still counts for real).
        frozen = time.time()
        monkeypatch.setattr(ratelimit, "time", SimpleNamespace(time=lambda: frozen))

    def post_token(self, client: Client, consumer: Consumer, source: str, **extra: str) -> Any:
        return client.post(
            TOKEN_URL,
            {"grant_type": "client_credentials", "scope": "consents:read"},
            HTTP_AUTHORIZATION=consumer.basic,
            REMOTE_ADDR=source,
            **extra,
        )

    def test_it_limits_each_client_id_whatever_the_address(
        self, client: Client, settings: Any, mairie: Organisation, make_consumer: Callable[..., Consumer]
    ):
        settings.OAUTH_RATE_LIMIT_PER_CLIENT = 2
        limited_client, other_client = make_consumer(mairie), make_consumer(mairie)
        source = address()

        statuses = [self.post_token(client, limited_client, address()).status_code for _ in range(2)]
        limited = self.post_token(client, limited_client, source)
        other = self.post_token(client, other_client, source)

        assert statuses == [200, 200]
        assert limited.status_code == 429
        assert limited.json()["error"] == "invalid_request"
        assert "error_description" in limited.json()
        assert 1 <= int(limited["Retry-After"]) <= 60
        assert limited["Cache-Control"] == "no-store"
        assert other.status_code == 200
        # Refused before anything ran: no third token, no third event.
        assert AccessToken.objects.filter(application=limited_client.application).count() == 2
        assert tokens_issued() == 3

    def test_wrong_secrets_spend_the_client_ids_quota_too(self, client: Client, settings: Any, mairie_client: Consumer):
        settings.OAUTH_RATE_LIMIT_PER_CLIENT = 1

        wrong = client.post(
            TOKEN_URL,
            {"grant_type": "client_credentials"},
            HTTP_AUTHORIZATION=basic_auth(mairie_client.client_id, "guess"),
            REMOTE_ADDR=address(),
        )
        right = self.post_token(client, mairie_client, address())

        assert_invalid_client(wrong)
        assert right.status_code == 429
        assert not AccessToken.objects.exists()

    def test_it_limits_each_address_across_the_three_endpoints(
        self, client: Client, settings: Any, mairie_client: Consumer
    ):
        settings.OAUTH_RATE_LIMIT_PER_ADDRESS = 3
        source = address()

        token = self.post_token(client, mairie_client, source)
        access_token = token.json()["access_token"]
        introspected = client.post(
            INTROSPECT_URL, {"token": access_token}, HTTP_AUTHORIZATION=mairie_client.basic, REMOTE_ADDR=source
        )
        unknown_client = client.post(
            REVOKE_URL, {"token": "t"}, HTTP_AUTHORIZATION=basic_auth("nobody", "x"), REMOTE_ADDR=source
        )
        limited = client.post(
            REVOKE_URL, {"token": access_token}, HTTP_AUTHORIZATION=mairie_client.basic, REMOTE_ADDR=source
        )
        elsewhere = self.post_token(client, mairie_client, address())

        assert (token.status_code, introspected.status_code, unknown_client.status_code) == (200, 200, 401)
        assert limited.status_code == 429
        assert limited.json()["error"] == "invalid_request"
        assert elsewhere.status_code == 200
        # The revocation was refused: the first token is still there, beside the one from elsewhere.
        assert AccessToken.objects.count() == 2
        assert not AuditEvent.objects.filter(type=EventType.TOKEN_REVOKED).exists()

    def test_behind_trusted_proxies_the_address_they_saw_counts(
        self, client: Client, settings: Any, mairie_client: Consumer
    ):
        settings.OAUTH_RATE_LIMIT_PER_ADDRESS = 1
        settings.TRUSTED_PROXY_HOPS = 1
        proxy, alice_address, bob_address = address(), address(), address()

        # The leftmost entries are whatever the client wrote; the proxy appended the last one.
        first = self.post_token(client, mairie_client, proxy, HTTP_X_FORWARDED_FOR=f"{address()}, {alice_address}")
        second = self.post_token(client, mairie_client, proxy, HTTP_X_FORWARDED_FOR=f"{address()}, {bob_address}")
        again = self.post_token(client, mairie_client, proxy, HTTP_X_FORWARDED_FOR=f"{address()}, {alice_address}")

        assert (first.status_code, second.status_code, again.status_code) == (200, 200, 429)


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


class TestWrongMethods:
    @pytest.mark.parametrize("path", ["/oauth/token/", "/oauth/revoke_token/"])
    @pytest.mark.parametrize("method", ["get", "put", "delete"])
    def test_the_token_and_revocation_endpoints_answer_in_oauth_format(
        self, client: Client, path: str, method: str
    ) -> None:
        response = getattr(client, method)(path)

        assert response.status_code == 405
        assert response["Content-Type"] == "application/json"
        assert response.json()["error"] == "invalid_request"
        assert "POST" in response["Allow"]
