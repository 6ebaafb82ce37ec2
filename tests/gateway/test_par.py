"""Pushed authorization requests (RFC 9126): the client pushes its parameters with client
authentication and sends the citizen with a single-use, short-lived request_uri; a client set to
require PAR gets nothing from plain parameters. Refusals answer `invalid_request_uri` (or the
authorization request's own error) and are in the trail."""

from __future__ import annotations

import datetime as dt
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client
from django.utils import timezone
from oauth2_provider.models import AccessToken

from audit.models import AuditEvent, EventType
from consent.models import Citizen, Consent
from gateway.models import PushedAuthorizationRequest
from providers.models import ApiClient
from tests.gateway.conftest import REDIRECT_URI, Consumer, login_citizen, pkce_pair
from tests.gateway.test_oauth import authorize_query, redeem

PAR_URL = "/oauth/par"


def refusals() -> list[str]:
    return [event.detail["reason"] for event in AuditEvent.objects.filter(type=EventType.OAUTH_REFUSED).order_by("id")]


class HiddenFields(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.fields: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "input" and values.get("type") == "hidden" and values.get("name"):
            self.fields[str(values["name"])] = values.get("value") or ""


def hidden_fields(response: Any) -> dict[str, str]:
    parser = HiddenFields()
    parser.feed(response.content.decode())
    return parser.fields


def push(client: Client, consumer: Consumer, params: dict[str, str]) -> Any:
    return client.post(PAR_URL, params, HTTP_AUTHORIZATION=consumer.basic)


def pushed_uri(client: Client, consumer: Consumer, challenge: str, **overrides: Any) -> str:
    response = push(client, consumer, authorize_query(consumer, challenge, **overrides))
    assert response.status_code == 201, response.content
    assert response.json()["expires_in"] == 60
    assert response["Cache-Control"] == "no-store"
    return str(response.json()["request_uri"])


def by_reference(consumer: Consumer, request_uri: str) -> str:
    return "/oauth/authorize/?" + urlencode({"client_id": consumer.client_id, "request_uri": request_uri})


def decide(client: Client, url: str, *, allow: bool = True, **tampered: str) -> Any:
    screen = client.get(url)
    assert screen.status_code == 200, screen.content
    form = {**hidden_fields(screen), **tampered}
    if allow:
        form["allow"] = "on"
    return client.post(url, form)


@pytest.fixture
def citizen_client(client: Client, alice: Citizen) -> Client:
    login_citizen(client, alice)
    return client


class TestPushedRequests:
    def test_the_code_flow_works_from_a_pushed_request(self, citizen_client: Client, mairie_web_client: Consumer):
        verifier, challenge = pkce_pair()
        request_uri = pushed_uri(citizen_client, mairie_web_client, challenge)
        assert request_uri.startswith("urn:ietf:params:oauth:request_uri:")

        response = decide(citizen_client, by_reference(mairie_web_client, request_uri))

        assert response.status_code == 302, response.content
        location = urlsplit(response["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
        code = parse_qs(location.query)["code"][0]
        token = redeem(citizen_client, mairie_web_client, code, verifier)
        assert token.status_code == 200, token.content
        assert Consent.objects.filter(status="active").count() == 1

    def test_the_stored_parameters_win_over_a_tampered_form(self, citizen_client: Client, mairie_web_client: Consumer):
        verifier, challenge = pkce_pair()
        request_uri = pushed_uri(citizen_client, mairie_web_client, challenge)

        response = decide(
            citizen_client,
            by_reference(mairie_web_client, request_uri),
            redirect_uri="https://attacker.example/cb",
            state="other",
        )

        location = urlsplit(response["Location"])
        assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
        assert parse_qs(location.query)["state"] == ["st4te"]

    def test_a_request_uri_buys_one_decision(self, citizen_client: Client, mairie_web_client: Consumer):
        request_uri = pushed_uri(citizen_client, mairie_web_client, pkce_pair()[1])
        url = by_reference(mairie_web_client, request_uri)
        form = hidden_fields(citizen_client.get(url))
        assert citizen_client.post(url, {**form, "allow": "on"}).status_code == 302

        again = citizen_client.post(url, {**form, "allow": "on"})

        assert again.status_code == 400
        assert "invalid_request_uri" in again.content.decode() or "request_uri" in again.content.decode()
        assert citizen_client.get(url).status_code == 400
        assert refusals() == ["request_uri_used", "request_uri_used"]
        assert AccessToken.objects.count() == 0

    def test_a_refusal_by_the_citizen_spends_it_too(self, citizen_client: Client, mairie_web_client: Consumer):
        request_uri = pushed_uri(citizen_client, mairie_web_client, pkce_pair()[1])
        url = by_reference(mairie_web_client, request_uri)

        denied = decide(citizen_client, url, allow=False)

        assert parse_qs(urlsplit(denied["Location"]).query)["error"] == ["access_denied"]
        assert citizen_client.get(url).status_code == 400

    def test_an_expired_request_uri_is_refused(self, citizen_client: Client, mairie_web_client: Consumer):
        request_uri = pushed_uri(citizen_client, mairie_web_client, pkce_pair()[1])
        PushedAuthorizationRequest.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

        response = citizen_client.get(by_reference(mairie_web_client, request_uri))

        assert response.status_code == 400
        assert refusals() == ["request_uri_expired"]

    def test_a_request_uri_is_only_its_clients(
        self, citizen_client: Client, mairie_web_client: Consumer, make_consumer: Any, cd_rhone: Any
    ):
        other = make_consumer(cd_rhone, grant="authorization-code", redirect_uris=[REDIRECT_URI])
        request_uri = pushed_uri(citizen_client, mairie_web_client, pkce_pair()[1])

        response = citizen_client.get(by_reference(other, request_uri))

        assert response.status_code == 400
        assert refusals() == ["request_uri_unknown"]
        unknown = citizen_client.get(by_reference(mairie_web_client, request_uri + "x"))
        assert unknown.status_code == 400


class TestThePushEndpoint:
    def test_it_needs_client_authentication(self, client: Client, mairie_web_client: Consumer):
        response = client.post(PAR_URL, authorize_query(mairie_web_client, pkce_pair()[1]))
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert PushedAuthorizationRequest.objects.count() == 0

    @pytest.mark.parametrize(
        ("overrides", "status", "error"),
        [
            ({"redirect_uri": "https://elsewhere.example/cb"}, 400, "invalid_request"),
            ({"code_challenge": None, "code_challenge_method": None}, 400, "invalid_request"),
            ({"scope": "audit:read"}, 400, "invalid_scope"),
            ({"request_uri": "urn:ietf:params:oauth:request_uri:x"}, 400, "invalid_request"),
            ({"request": "eyJ.e30.x"}, 400, "invalid_request"),
            # A body client_id contradicting the authenticated one is no authentication at all.
            ({"client_id": "someone-else"}, 401, "invalid_client"),
        ],
    )
    def test_it_refuses_what_the_authorization_endpoint_would(
        self, client: Client, mairie_web_client: Consumer, overrides: dict[str, Any], status: int, error: str
    ):
        response = push(client, mairie_web_client, authorize_query(mairie_web_client, pkce_pair()[1], **overrides))

        assert response.status_code == status, response.content
        assert response.json()["error"] == error
        assert PushedAuthorizationRequest.objects.count() == 0


class TestRequiredPar:
    def test_a_client_set_to_require_par_gets_no_code_from_plain_parameters(
        self, citizen_client: Client, mairie_web_client: Consumer
    ):
        ApiClient.objects.filter(application=mairie_web_client.application).update(require_par=True)

        response = citizen_client.get("/oauth/authorize/", authorize_query(mairie_web_client, pkce_pair()[1]))

        assert response.status_code == 302
        assert parse_qs(urlsplit(response["Location"]).query)["error"] == ["invalid_request"]
        assert refusals() == ["par_required"]
        # A POST of the plain form is refused the same way.
        query = authorize_query(mairie_web_client, pkce_pair()[1])
        posted = citizen_client.post("/oauth/authorize/?" + urlencode(query), {**query, "allow": "on"})
        assert "code" not in parse_qs(urlsplit(posted.get("Location", "")).query)

        verifier, challenge = pkce_pair()
        request_uri = pushed_uri(citizen_client, mairie_web_client, challenge)
        decided = decide(citizen_client, by_reference(mairie_web_client, request_uri))
        code = parse_qs(urlsplit(decided["Location"]).query)["code"][0]
        assert redeem(citizen_client, mairie_web_client, code, verifier).status_code == 200
