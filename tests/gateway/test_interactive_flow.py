"""The interactive consent flow (DESIGN.md Flow 2): /oauth/authorize/ shows the consent screen, the
citizen previews and approves, the code carries the new consent, and the token bought with it is
bound to that consent until the citizen withdraws it."""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.test import Client
from django.utils.html import escape
from oauth2_provider.models import AccessToken, Application, Grant

from audit.models import AuditEvent, EventType
from consent.auth import login_url
from consent.models import Citizen, Consent, TokenBinding
from gateway.models import AuthorizationCode, Exchange
from providers.demodata.population import Population, demo_citizens
from providers.models import AttestationType, Habilitation, Organisation
from tests.gateway.conftest import AVIS, QF, REDIRECT_URI, Consumer, login_citizen, pkce_pair

ISSUER = "http://testserver"


class HiddenFields(HTMLParser):
    """The hidden inputs of the page's authorization form, as a browser would post them back."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "input" and attributes.get("type") == "hidden" and attributes.get("name"):
            self.values[str(attributes["name"])] = attributes.get("value") or ""


def hidden_fields(response: Any) -> dict[str, str]:
    parser = HiddenFields()
    parser.feed(response.content.decode())
    return parser.values


def authorize_url(consumer: Consumer, challenge: str, **overrides: str | None) -> str:
    query: dict[str, str | None] = {
        "response_type": "code",
        "client_id": consumer.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": f"attestations:{QF}",
        "state": "st4te",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    query.update(overrides)
    return "/oauth/authorize/?" + urlencode({key: value for key, value in query.items() if value is not None})


def redirect_params(response: Any) -> dict[str, list[str]]:
    assert response.status_code == 302, response.content
    location = urlsplit(response["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == REDIRECT_URI
    return parse_qs(location.query)


def redeem(client: Client, consumer: Consumer, code: str, verifier: str) -> Any:
    return client.post(
        "/oauth/token/",
        {"grant_type": "authorization_code", "code": code, "redirect_uri": REDIRECT_URI, "code_verifier": verifier},
        HTTP_AUTHORIZATION=consumer.basic,
    )


def bearer_header(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def trail_size() -> int:
    # The fixtures (catalogue, habilitations) write events of their own: tests count from here.
    return AuditEvent.objects.count()


def consent_events(*types: EventType) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(type__in=types).order_by("id"))


@pytest.fixture
def alice_client(client: Client, alice: Citizen) -> Client:
    login_citizen(client, alice, "eidas2")
    return client


@pytest.fixture
def screen(alice_client: Client, mairie_web_client: Consumer) -> Callable[..., tuple[Any, str, str]]:
    """Opens the consent screen; returns the page, its authorize URL and the PKCE verifier."""

    def open_screen(**overrides: str | None) -> tuple[Any, str, str]:
        verifier, challenge = pkce_pair()
        url = authorize_url(mairie_web_client, challenge, **overrides)
        page = alice_client.get(url)
        return page, url, verifier

    return open_screen


def approve(client: Client, url: str, page: Any) -> Any:
    return client.post(url, {**hidden_fields(page), "allow": "on"})


def approved_token(
    client: Client, consumer: Consumer, screen: Callable[..., tuple[Any, str, str]], **overrides: str | None
) -> tuple[str, Consent]:
    page, url, verifier = screen(**overrides)
    code = redirect_params(approve(client, url, page))["code"][0]
    response = redeem(client, consumer, code, verifier)
    assert response.status_code == 200, response.content
    return response.json()["access_token"], Consent.objects.get()


class TestConsentScreen:
    def test_it_sends_a_citizen_without_a_session_to_the_login_then_back(
        self, client: Client, mairie_web_client: Consumer
    ) -> None:
        url = authorize_url(mairie_web_client, pkce_pair()[1])

        response = client.get(url)

        assert response.status_code == 302
        assert response["Location"] == login_url(url)
        assert not Grant.objects.exists()

    def test_it_shows_the_terms_and_stores_nothing(self, screen: Callable[..., Any], mairie: Organisation) -> None:
        before = trail_size()
        page, _, _ = screen(duration_days="90", max_uses="3")

        assert page.status_code == 200
        assert "no-store" in page["Cache-Control"]
        html = page.content.decode()
        qf = AttestationType.objects.select_related("holder").get(slug=QF)
        habilitation = Habilitation.objects.get(consumer=mairie, attestation_type=qf)
        purpose = next(p for p in qf.purposes if p["code"] == habilitation.purpose_code)
        for text in (
            mairie.name,
            mairie.siret,
            qf.title_fr,
            "Quotient familial (€)",
            "Nombre d&#x27;enfants à charge",
            escape(qf.holder.name),
            escape(purpose["label_fr"]),
            escape(habilitation.purpose_text),
            "<strong>90 jours</strong>",
            "<strong>3</strong>",
            "/mes-consentements/",
        ):
            assert text in html, text
        assert 'name="allow"' in html
        assert 'name="preview"' in html
        assert hidden_fields(page)["duration_days"] == "90"
        assert not Consent.objects.exists()
        assert trail_size() == before

    def test_it_always_shows_even_when_the_client_asks_approval_prompt_auto(
        self, alice_client: Client, mairie_web_client: Consumer, screen: Callable[..., Any]
    ) -> None:
        approved_token(alice_client, mairie_web_client, screen)

        again, _, _ = screen(approval_prompt="auto")

        assert again.status_code == 200
        assert 'name="allow"' in again.content.decode()
        assert Grant.objects.count() == 0

    def test_it_previews_the_citizens_own_data_and_keeps_the_request(
        self,
        alice_client: Client,
        alice: Citizen,
        mairie: Organisation,
        mairie_web_client: Consumer,
        screen: Callable[..., Any],
        population: Population,
    ) -> None:
        page, url, verifier = screen(duration_days="90")
        sent = hidden_fields(page)

        preview = alice_client.post(url, {**sent, "preview": "on"})

        assert preview.status_code == 200
        assert "no-store" in preview["Cache-Control"]
        record = population.record(demo_citizens(population)[0], QF)
        assert record is not None
        assert str(record["quotient_familial"]) in preview.content.decode()
        # The OAuth parameters survive the preview: the page posts them again.
        kept = hidden_fields(preview)
        assert {key: kept[key] for key in sent if key != "csrfmiddlewaretoken"} == {
            key: value for key, value in sent.items() if key != "csrfmiddlewaretoken"
        }
        [event] = AuditEvent.objects.filter(type=EventType.CITIZEN_PREVIEWED)
        assert (event.citizen_ref, event.consumer, event.attestation_type) == (alice.ref, mairie.siret, QF)
        assert event.consent_id is None
        assert event.detail["outcome"] == "succeeded"
        assert str(record["quotient_familial"]) not in str(event.detail) + str(event.fields)
        # Never delivered to the consumer: no consent, no exchange.
        assert not Consent.objects.exists()
        assert not Exchange.objects.exists()

        # And approving from the previewed page completes the flow.
        code = redirect_params(alice_client.post(url, {**kept, "allow": "on"}))["code"][0]
        assert redeem(alice_client, mairie_web_client, code, verifier).status_code == 200


class TestApprove:
    def test_it_creates_an_active_consent_with_its_events_and_the_code_carries_it(
        self,
        alice_client: Client,
        alice: Citizen,
        mairie_web_client: Consumer,
        screen: Callable[..., Any],
    ) -> None:
        page, url, _ = screen(duration_days="90", max_uses="5")

        response = approve(alice_client, url, page)

        params = redirect_params(response)
        assert params["state"] == ["st4te"]
        assert params["iss"] == [ISSUER]
        consent = Consent.objects.get()
        assert (consent.status, consent.citizen, consent.eidas_level) == (Consent.Status.ACTIVE, alice, "eidas2")
        assert consent.client == mairie_web_client.application
        assert (consent.duration_days, consent.max_uses) == (90, 5)
        habilitation = Habilitation.objects.get(consumer=mairie_web_client.organisation, attestation_type__slug=QF)
        assert consent.purpose_code == habilitation.purpose_code
        [item] = consent.items.all()
        assert sorted(item.fields) == sorted(habilitation.fields)
        assert consent.artefact
        requested, approved = consent_events(EventType.CONSENT_REQUESTED, EventType.CONSENT_APPROVED)
        assert (requested.type, approved.type) == (EventType.CONSENT_REQUESTED, EventType.CONSENT_APPROVED)
        assert requested.consent_id == approved.consent_id == consent.pk
        assert requested.actor == mairie_web_client.client_id
        assert approved.citizen_ref == alice.ref
        assert AuthorizationCode.objects.get().consent_id == consent.pk

    def test_the_token_gets_the_attestation_without_a_consent_parameter(
        self, alice_client: Client, alice: Citizen, mairie_web_client: Consumer, screen: Callable[..., Any]
    ) -> None:
        token, consent = approved_token(alice_client, mairie_web_client, screen)

        response = alice_client.get(f"/api/v1/attestations/{QF}", headers=bearer_header(token))

        assert response.status_code == 200, response.content
        attestation = response.json()["attestation"]
        assert attestation["consent"] == str(consent.pk)
        assert attestation["subject_ref"] == alice.ref
        assert TokenBinding.objects.get().consent == consent
        assert Exchange.objects.get().consent_id == consent.pk

    def test_one_screen_covers_several_types_in_one_consent(
        self, alice_client: Client, mairie_web_client: Consumer, screen: Callable[..., Any]
    ) -> None:
        token, consent = approved_token(
            alice_client, mairie_web_client, screen, scope=f"attestations:{QF} attestations:{AVIS}"
        )

        assert sorted(item.attestation_type.slug for item in consent.items.all()) == sorted([QF, AVIS])
        for slug in (QF, AVIS):
            assert alice_client.get(f"/api/v1/attestations/{slug}", headers=bearer_header(token)).status_code == 200

    def test_revoking_the_consent_from_the_dashboard_refuses_the_next_call(
        self, alice_client: Client, mairie_web_client: Consumer, screen: Callable[..., Any]
    ) -> None:
        token, consent = approved_token(alice_client, mairie_web_client, screen)
        assert alice_client.get(f"/api/v1/attestations/{QF}", headers=bearer_header(token)).status_code == 200

        revoked = alice_client.post(f"/mes-consentements/{consent.pk}/retirer/")

        assert revoked.status_code == 302
        consent.refresh_from_db()
        assert consent.status == Consent.Status.REVOKED
        after = alice_client.get(f"/api/v1/attestations/{QF}", headers=bearer_header(token))
        assert after.status_code == 401
        assert after.json()["code"] == "authentication_required"
        assert not AccessToken.objects.exists()
        event = AuditEvent.objects.get(type=EventType.TOKEN_REVOKED)
        assert (event.consent_id, event.detail["reason"]) == (consent.pk, "consent_revoked")

    def test_approving_the_same_screen_twice_creates_one_consent(
        self, alice_client: Client, mairie_web_client: Consumer, screen: Callable[..., Any]
    ) -> None:
        page, url, verifier = screen()

        first = approve(alice_client, url, page)
        second = approve(alice_client, url, page)

        consent = Consent.objects.get()
        assert consent.status == Consent.Status.ACTIVE
        assert [event.type for event in consent_events(EventType.CONSENT_REQUESTED, EventType.CONSENT_APPROVED)] == [
            EventType.CONSENT_REQUESTED,
            EventType.CONSENT_APPROVED,
        ]
        codes = [redirect_params(response)["code"][0] for response in (first, second)]
        assert codes[0] != codes[1]
        assert [code.consent_id for code in AuthorizationCode.objects.order_by("id")] == [consent.pk, consent.pk]
        # Whichever response the browser kept, its code buys a token bound to that one consent.
        token = redeem(alice_client, mairie_web_client, codes[1], verifier)
        assert token.status_code == 200, token.content
        assert TokenBinding.objects.get().consent == consent

    def test_a_new_authorization_request_with_the_same_terms_gets_its_own_consent(
        self, alice_client: Client, screen: Callable[..., Any]
    ) -> None:
        for _ in range(2):
            page, url, _ = screen()
            assert "code" in redirect_params(approve(alice_client, url, page))

        assert Consent.objects.filter(status=Consent.Status.ACTIVE).count() == 2

    def test_a_screen_answered_then_withdrawn_cannot_be_approved_again(
        self, alice_client: Client, screen: Callable[..., Any]
    ) -> None:
        page, url, _ = screen()
        approve(alice_client, url, page)
        consent = Consent.objects.get()
        alice_client.post(f"/mes-consentements/{consent.pk}/retirer/")
        before, grants = trail_size(), Grant.objects.count()

        again = approve(alice_client, url, page)

        assert again.status_code == 409, again.content
        assert "plus en attente de décision" in again.content.decode()
        assert list(Consent.objects.values_list("status", flat=True)) == [Consent.Status.REVOKED]
        assert Grant.objects.count() == grants
        assert trail_size() == before

    def test_a_request_oauth_refuses_on_approval_leaves_no_consent(
        self, alice_client: Client, screen: Callable[..., Any]
    ) -> None:
        before = trail_size()
        page, url, _ = screen()
        fields = {**hidden_fields(page), "code_challenge_method": "plain", "allow": "on"}

        response = alice_client.post(url, fields)

        assert redirect_params(response)["error"] == ["invalid_request"]
        assert not Consent.objects.exists()
        assert trail_size() == before
        assert not Grant.objects.exists()


class TestReject:
    def test_it_answers_access_denied_and_records_no_consent(
        self, alice_client: Client, screen: Callable[..., Any]
    ) -> None:
        before = trail_size()
        page, url, _ = screen()

        response = alice_client.post(url, hidden_fields(page))

        params = redirect_params(response)
        assert params["error"] == ["access_denied"]
        assert params["state"] == ["st4te"]
        assert params["iss"] == [ISSUER]
        assert "code" not in params
        assert not Consent.objects.exists()
        assert trail_size() == before
        assert not Grant.objects.exists()


class TestLoginLevel:
    def test_a_login_below_the_types_minimum_gets_a_message_and_no_approve_button(
        self, client: Client, alice: Citizen, mairie_web_client: Consumer
    ) -> None:
        login_citizen(client, alice, "eidas1")
        url = authorize_url(mairie_web_client, pkce_pair()[1], scope=f"attestations:{AVIS}")

        page = client.get(url)

        assert page.status_code == 200
        html = page.content.decode()
        assert "Niveau de connexion insuffisant" in html
        assert 'name="allow"' not in html
        assert 'name="preview"' not in html
        assert login_url(url, level="eidas2").replace("&", "&amp;") in html

    def test_approving_anyway_is_refused_and_changes_nothing(
        self, client: Client, alice: Citizen, mairie_web_client: Consumer
    ) -> None:
        login_citizen(client, alice, "eidas1")
        url = authorize_url(mairie_web_client, pkce_pair()[1], scope=f"attestations:{AVIS}")
        before = trail_size()
        page = client.get(url)

        response = client.post(url, {**hidden_fields(page), "allow": "on"})
        preview = client.post(url, {**hidden_fields(page), "preview": "on"})

        assert response.status_code == 403
        assert "Votre niveau de connexion est insuffisant" in response.content.decode()
        assert preview.status_code == 403
        assert not Consent.objects.exists()
        assert trail_size() == before
        assert not Grant.objects.exists()


class TestRequestChecks:
    def test_a_scope_outside_the_habilitations_is_invalid_scope(
        self, client: Client, alice: Citizen, cd_rhone: Organisation, make_consumer: Callable[..., Consumer]
    ) -> None:
        cd_rhone_web = make_consumer(cd_rhone, grant=Application.GRANT_AUTHORIZATION_CODE, redirect_uris=[REDIRECT_URI])
        login_citizen(client, alice)
        url = authorize_url(cd_rhone_web, pkce_pair()[1])
        fields = dict(parse_qs(urlsplit(url).query, keep_blank_values=True))

        shown = client.get(url)
        posted = client.post(url, {**{key: values[0] for key, values in fields.items()}, "allow": "on"})

        for response in (shown, posted):
            params = redirect_params(response)
            assert params["error"] == ["invalid_scope"]
            assert params["state"] == ["st4te"]
        assert not Consent.objects.exists()
        assert not Grant.objects.exists()

    def test_an_organisation_scope_is_not_granted_on_the_consent_screen(self, screen: Callable[..., Any]) -> None:
        page, _, _ = screen(scope=f"attestations:{QF} consents:read")

        assert redirect_params(page)["error"] == ["invalid_scope"]

    @pytest.mark.parametrize(
        "overrides",
        [
            {"duration_days": "400"},
            # Zero is out of range as at POST /api/v1/consent-requests, not "the default".
            {"duration_days": "0"},
            {"duration_days": "-1"},
            {"duration_days": "ten"},
            {"max_uses": "0"},
            {"purpose": "bourse-scolaire"},
        ],
    )
    def test_terms_out_of_range_are_invalid_request(
        self, screen: Callable[..., Any], overrides: dict[str, str]
    ) -> None:
        page, _, _ = screen(**overrides)

        params = redirect_params(page)
        assert params["error"] == ["invalid_request"]
        assert params["state"] == ["st4te"]
        assert params["iss"] == [ISSUER]
        assert not Consent.objects.exists()

    def test_a_zero_duration_is_refused_on_approval_too(
        self, alice_client: Client, mairie_web_client: Consumer
    ) -> None:
        url = authorize_url(mairie_web_client, pkce_pair()[1], duration_days="0")
        fields = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}

        response = alice_client.post(url, {**fields, "allow": "on"})

        params = redirect_params(response)
        assert params["error"] == ["invalid_request"]
        assert "duration_days" in params["error_description"][0]
        assert not Consent.objects.exists()
        assert not Grant.objects.exists()


class TestCsrf:
    def test_approving_needs_the_csrf_token(self, alice: Citizen, mairie_web_client: Consumer) -> None:
        browser = Client(enforce_csrf_checks=True)
        login_citizen(browser, alice)
        url = authorize_url(mairie_web_client, pkce_pair()[1])
        page = browser.get(url)
        fields = hidden_fields(page)
        assert fields["csrfmiddlewaretoken"]

        forged = browser.post(url, {**{k: v for k, v in fields.items() if k != "csrfmiddlewaretoken"}, "allow": "on"})

        assert forged.status_code == 403
        assert not Consent.objects.exists()
        assert not Grant.objects.exists()
        genuine = browser.post(url, {**fields, "allow": "on"})
        assert "code" in redirect_params(genuine)
        assert Consent.objects.get().status == Consent.Status.ACTIVE
