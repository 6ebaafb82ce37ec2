"""Rich authorization requests (RFC 9396): `authorization_details` of type `attestation` narrow a
request to some fields and state the consent's terms; the consent screen shows exactly that, the
consent holds exactly that, and the token response and introspection echo what was granted. Any
other type, member or field is `invalid_authorization_details`, leaves nothing and is in the trail."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client

from audit.models import AuditEvent, EventType
from consent.models import Citizen, Consent
from providers.models import Habilitation
from tests.gateway.conftest import AVIS, QF, Consumer, login_citizen, pkce_pair
from tests.gateway.test_oauth import authorize_query, redeem
from tests.gateway.test_par import decide, hidden_fields, push

AUTHORIZE = "/oauth/authorize/"


def refusals() -> list[str]:
    return [event.detail["reason"] for event in AuditEvent.objects.filter(type=EventType.OAUTH_REFUSED).order_by("id")]


def details(*entries: dict[str, Any]) -> str:
    return json.dumps(list(entries))


def qf(**members: Any) -> dict[str, Any]:
    return {"type": "attestation", "attestation_type": QF, **members}


def error_of(response: Any) -> str:
    assert response.status_code == 302, response.content
    return parse_qs(urlsplit(response["Location"]).query)["error"][0]


@pytest.fixture
def citizen_client(client: Client, alice: Citizen) -> Client:
    login_citizen(client, alice)
    return client


class TestGrantedDetails:
    def test_the_screen_the_consent_and_the_tokens_hold_exactly_the_fields_asked_for(
        self, citizen_client: Client, mairie_web_client: Consumer
    ):
        asked = details(qf(fields=["quotient_familial", "annee"], duration_days=45, max_uses=3))
        verifier, challenge = pkce_pair()
        query = authorize_query(mairie_web_client, challenge, scope=None, authorization_details=asked)

        screen = citizen_client.get(AUTHORIZE, query)
        assert screen.status_code == 200, screen.content
        form = hidden_fields(screen)
        assert json.loads(form["authorization_details"]) == json.loads(asked)
        response = citizen_client.post(AUTHORIZE + "?" + urlencode(query), {**form, "allow": "on"})
        code = parse_qs(urlsplit(response["Location"]).query)["code"][0]

        consent = Consent.objects.get()
        assert consent.items.get().fields == ["quotient_familial", "annee"]
        assert consent.duration_days == 45
        assert consent.max_uses == 3
        token = redeem(citizen_client, mairie_web_client, code, verifier)
        assert token.status_code == 200, token.content
        granted = token.json()["authorization_details"]
        assert granted == [qf(duration_days=45, fields=["quotient_familial", "annee"], max_uses=3)]
        assert token.json()["scope"] == f"attestations:{QF}"
        introspected = citizen_client.post(
            "/oauth/introspect/", {"token": token.json()["access_token"]}, HTTP_AUTHORIZATION=mairie_web_client.basic
        )
        assert introspected.json()["authorization_details"] == granted

    def test_details_can_be_pushed(self, citizen_client: Client, mairie_web_client: Consumer):
        verifier, challenge = pkce_pair()
        query = authorize_query(mairie_web_client, challenge, authorization_details=details(qf(fields=["mois"])))
        pushed = push(citizen_client, mairie_web_client, query)
        assert pushed.status_code == 201, pushed.content
        url = f"{AUTHORIZE}?client_id={mairie_web_client.client_id}&request_uri={pushed.json()['request_uri']}"

        response = decide(citizen_client, url)

        code = parse_qs(urlsplit(response["Location"]).query)["code"][0]
        assert redeem(citizen_client, mairie_web_client, code, verifier).json()["authorization_details"][0][
            "fields"
        ] == ["mois"]

    def test_plain_scopes_keep_working_without_details(self, citizen_client: Client, mairie_web_client: Consumer):
        verifier, challenge = pkce_pair()
        query = authorize_query(mairie_web_client, challenge)
        screen = citizen_client.get(AUTHORIZE, query)
        response = citizen_client.post(AUTHORIZE + "?" + urlencode(query), {**hidden_fields(screen), "allow": "on"})
        code = parse_qs(urlsplit(response["Location"]).query)["code"][0]

        token = redeem(citizen_client, mairie_web_client, code, verifier)

        assert "authorization_details" not in token.json()
        assert len(Consent.objects.get().items.get().fields) == 8


class TestRefusedDetails:
    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            ("not json", "details_not_json"),
            ("{}", "details_not_a_list"),
            (details({"type": "payment_initiation", "attestation_type": QF}), "detail_type_unknown"),
            (details(qf(locations=["https://example.fr"])), "detail_member_unknown"),
            (details(qf(fields="quotient_familial")), "detail_fields"),
            (details(qf(duration_days="30")), "detail_duration_days"),
            (details({"type": "attestation", "attestation_type": "../etc"}), "detail_attestation_type"),
            (details(qf(), qf()), "detail_type_repeated"),
            (
                details(qf(purpose="a"), {"type": "attestation", "attestation_type": AVIS, "purpose": "b"}),
                "details_purpose_differ",
            ),
        ],
    )
    def test_malformed_details_are_refused(
        self, citizen_client: Client, mairie_web_client: Consumer, value: str, reason: str
    ):
        query = authorize_query(mairie_web_client, pkce_pair()[1], authorization_details=value)

        assert error_of(citizen_client.get(AUTHORIZE, query)) == "invalid_authorization_details"
        assert refusals() == [reason]
        assert not Consent.objects.exists()

    def test_fields_outside_the_habilitation_are_refused(self, citizen_client: Client, mairie_web_client: Consumer):
        Habilitation.objects.filter(consumer=mairie_web_client.organisation, attestation_type__slug=QF).update(
            fields=["quotient_familial", "annee"]
        )
        for fields in (["enfants"], ["no_such_field"]):
            asked = details(qf(fields=["quotient_familial", *fields]))
            query = authorize_query(mairie_web_client, pkce_pair()[1], authorization_details=asked)
            assert error_of(citizen_client.get(AUTHORIZE, query)) == "invalid_authorization_details"
        assert refusals() == ["details_fields_refused", "details_fields_refused"]
        assert not Consent.objects.exists()

    def test_a_type_without_habilitation_is_out_of_scope(self, citizen_client: Client, mairie_web_client: Consumer):
        Habilitation.objects.filter(consumer=mairie_web_client.organisation, attestation_type__slug=QF).delete()
        query = authorize_query(mairie_web_client, pkce_pair()[1], scope=None, authorization_details=details(qf()))

        assert error_of(citizen_client.get(AUTHORIZE, query)) == "invalid_scope"

    def test_the_metadata_names_the_type(self, client: Client, mairie_web_client: Consumer):
        metadata = client.get("/.well-known/oauth-authorization-server").json()
        assert metadata["authorization_details_types_supported"] == ["attestation"]
