"""The portal's OAuth client pages, through the full stack: an administrator creates a client (its
secret shown once) and gets tokens with it; a rotation keeps the previous secret for the overlap
chosen; a disabled client gets no token and its tokens stop working; bad input changes nothing;
another organisation's clients are a 404, other roles a 403."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from oauth2_provider.models import Application

from audit.models import AuditEvent, EventType
from core.errors import ValidationError
from gateway.services.clients import client_secret_rotate
from providers.models import Agent, AgentRole, ApiClient, Organisation
from providers.services.agents import agent_actor
from tests.agents import make_agent
from tests.gateway.conftest import basic_auth
from tests.gateway.fapi import new_key

Role = AgentRole.Role


def client_for(agent: Agent, language: str = "fr") -> Client:
    client = Client()
    client.force_login(agent.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def shown(page: Any, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]+)<', page.content.decode())
    assert found, page.content.decode()[:3000]
    return found.group(1)


def token_status(client_id: str, secret: str) -> int:
    response = Client().post(
        "/oauth/token/",
        {"grant_type": "client_credentials", "scope": "consents:read"},
        HTTP_AUTHORIZATION=basic_auth(client_id, secret),
    )
    return int(response.status_code)


@pytest.fixture
def adele(cd_rhone: Organisation) -> Agent:
    """The consumer's administrator."""
    return make_agent(cd_rhone, "adele", roles=[Role.ADMINISTRATOR])


def create(agent: Agent, **data: str) -> tuple[ApiClient, str]:
    page = client_for(agent).post(
        reverse("portal-client-new"), {"name": "Démarches en ligne", "grant": "client-credentials", **data}
    )
    assert page.status_code == 200, page.content.decode()[:3000]
    api_client = ApiClient.objects.select_related("application").get(application__client_id=shown(page, "client-id"))
    return api_client, shown(page, "client-secret")


class TestClients:
    def test_it_creates_a_client_whose_secret_works_and_shows_its_last_use(self, adele: Agent) -> None:
        api_client, secret = create(adele)
        assert api_client.organisation == adele.organisation and api_client.last_used_at is None
        assert secret not in api_client.application.client_secret  # only its keyed hash is kept
        assert token_status(api_client.application.client_id, secret) == 200

        api_client.refresh_from_db()
        assert api_client.last_used_at is not None
        listing = client_for(adele).get(reverse("portal-clients")).content.decode()
        assert "Démarches en ligne" in listing and "Jamais" not in listing
        event = AuditEvent.objects.get(type=EventType.CLIENT_CREATED)
        assert (event.actor, event.consumer) == (adele.actor_id, adele.organisation.siret)

    def test_a_rotation_keeps_the_previous_secret_for_the_overlap_only(self, adele: Agent) -> None:
        api_client, first = create(adele)
        client_id = api_client.application.client_id
        rotate = reverse("portal-client-rotate", args=[api_client.pk])

        second = shown(client_for(adele).post(rotate, {"rotate-overlap": "24h"}), "client-secret")
        assert (token_status(client_id, first), token_status(client_id, second)) == (200, 200)
        ApiClient.objects.filter(pk=api_client.pk).update(previous_secret_expires_at=timezone.now())
        assert token_status(client_id, first) == 401

        third = shown(client_for(adele).post(rotate, {"rotate-overlap": "0"}), "client-secret")
        assert (token_status(client_id, second), token_status(client_id, third)) == (401, 200)
        assert AuditEvent.objects.filter(type=EventType.CLIENT_SECRET_ROTATED, actor=adele.actor_id).count() == 2

    def test_a_disabled_client_gets_no_token_and_its_tokens_stop_working(self, adele: Agent) -> None:
        api_client, secret = create(adele)
        client_id = api_client.application.client_id
        token = Client().post(
            "/oauth/token/",
            {"grant_type": "client_credentials", "scope": "consents:read"},
            HTTP_AUTHORIZATION=basic_auth(client_id, secret),
        )
        bearer = "Bearer " + token.json()["access_token"]
        assert Client().get("/api/v1/consents", HTTP_AUTHORIZATION=bearer).status_code == 200

        response = client_for(adele).post(reverse("portal-client-disable", args=[api_client.pk]))

        assert response.status_code == 302
        assert token_status(client_id, secret) == 401
        assert Client().get("/api/v1/consents", HTTP_AUTHORIZATION=bearer).status_code == 401
        assert "Désactivé" in client_for(adele).get(reverse("portal-client", args=[api_client.pk])).content.decode()

    def test_disabling_asks_to_confirm_first_and_changes_nothing_until_then(self, adele: Agent) -> None:
        api_client, secret = create(adele)
        detail = client_for(adele).get(reverse("portal-client", args=[api_client.pk])).content.decode()
        confirm_url = reverse("portal-client-disable", args=[api_client.pk])
        assert f'href="{confirm_url}"' in detail  # a link to the question, not a button that acts

        page = client_for(adele).get(confirm_url)

        assert page.status_code == 200
        assert "Oui, désactiver le client" in page.content.decode()
        api_client.refresh_from_db()
        assert api_client.disabled_at is None
        assert token_status(api_client.application.client_id, secret) == 200
        assert not AuditEvent.objects.filter(type=EventType.CLIENT_DISABLED).exists()

    def test_redirect_uris_are_set_on_an_authorization_code_client(self, adele: Agent) -> None:
        api_client, _secret = create(
            adele, grant="authorization-code", redirect_uris="https://demarches.cd-rhone.example.fr/retour"
        )
        url = reverse("portal-client-redirect-uris", args=[api_client.pk])
        uris = "https://demarches.cd-rhone.example.fr/retour\nhttps://demarches.cd-rhone.example.fr/autre"
        assert client_for(adele).post(url, {"redirect-redirect_uris": uris}).status_code == 302
        api_client.application.refresh_from_db()
        assert api_client.application.redirect_uris.split() == uris.split("\n")


class TestBadInput:
    @pytest.mark.parametrize(
        ("data", "field"),
        [
            ({"grant": "authorization-code", "redirect_uris": "http://demarches.example.fr/retour"}, "redirect_uris"),
            ({"grant": "authorization-code", "redirect_uris": "https://demarches.example.fr/#x"}, "redirect_uris"),
            ({"grant": "authorization-code", "redirect_uris": ""}, "redirect_uris"),
            ({"grant": "client-credentials", "redirect_uris": "https://demarches.example.fr/retour"}, "redirect_uris"),
            ({"grant": "password"}, "grant"),
            ({"name": "  "}, "name"),
        ],
    )
    def test_it_refuses_next_to_the_field_and_creates_nothing(
        self, adele: Agent, data: dict[str, str], field: str, settings: Any
    ) -> None:
        settings.DEMO_MODE = False
        response = client_for(adele).post(
            reverse("portal-client-new"), {"name": "Démarches", "grant": "client-credentials", **data}
        )
        assert response.status_code == 400
        assert list(response.context["form"].errors) == [field]
        assert not Application.objects.filter(api_client__organisation=adele.organisation).exists()
        assert not AuditEvent.objects.filter(type=EventType.CLIENT_CREATED).exists()

    def test_a_rotation_with_an_unknown_overlap_changes_nothing(self, adele: Agent) -> None:
        api_client, secret = create(adele)
        response = client_for(adele).post(
            reverse("portal-client-rotate", args=[api_client.pk]), {"rotate-overlap": "1y"}
        )
        assert response.status_code == 400
        assert token_status(api_client.application.client_id, secret) == 200


class TestIsolation:
    def test_another_organisations_administrator_finds_nothing(self, adele: Agent, mairie: Organisation) -> None:
        api_client, secret = create(adele)
        stranger = client_for(make_agent(mairie, "mallory", roles=[Role.ADMINISTRATOR]))
        assert stranger.get(reverse("portal-client", args=[api_client.pk])).status_code == 404
        for name, data in (
            ("portal-client-rotate", {"rotate-overlap": "0"}),
            ("portal-client-redirect-uris", {"redirect-redirect_uris": ""}),
            ("portal-client-disable", {}),
        ):
            assert stranger.post(reverse(name, args=[api_client.pk]), data).status_code == 404
        assert "Démarches en ligne" not in stranger.get(reverse("portal-clients")).content.decode()
        assert token_status(api_client.application.client_id, secret) == 200

    @pytest.mark.parametrize("role", [Role.HABILITATION_MANAGER])
    def test_only_administrators_manage_clients(self, adele: Agent, cd_rhone: Organisation, role: str) -> None:
        api_client, secret = create(adele)
        colleague = client_for(make_agent(cd_rhone, "colin", roles=[role]))
        assert colleague.get(reverse("portal-clients")).status_code == 403
        assert colleague.get(reverse("portal-client-new")).status_code == 403
        assert colleague.get(reverse("portal-client", args=[api_client.pk])).status_code == 403
        assert colleague.post(reverse("portal-client-disable", args=[api_client.pk])).status_code == 403
        assert token_status(api_client.application.client_id, secret) == 200

    def test_anyone_but_an_agent_goes_to_the_login(self, db: None) -> None:
        response = Client().get(reverse("portal-clients"))
        assert response.status_code == 302 and response["Location"].startswith(reverse("agent-login"))


class TestClientsWithKeys:
    """A client that proves who it is with its own key pair (private_key_jwt): the portal takes its
    public keys, shows no secret, and refuses anything that is not a public key set."""

    def test_the_key_set_box_starts_empty(self, adele: Agent) -> None:
        page = client_for(adele).get(reverse("portal-client-new")).content.decode()

        box = re.search(r'<textarea[^>]*name="jwks"[^>]*>(.*?)</textarea>', page, re.DOTALL)
        assert box is not None, page[:3000]
        assert box.group(1).strip() == ""

    def test_it_creates_a_client_with_its_public_keys_and_shows_no_secret(self, adele: Agent) -> None:
        key = new_key("ES256", kid="demarches-1")
        browser = client_for(adele)
        page = browser.post(
            reverse("portal-client-new"),
            {
                "name": "Démarches en ligne",
                "grant": "client-credentials",
                "authentication": "private_key_jwt",
                "jwks": json.dumps({"keys": [key.as_dict(private=False)]}),
            },
        )
        assert page.status_code == 302
        api_client = ApiClient.objects.get(organisation=adele.organisation)
        assert api_client.token_endpoint_auth_method == ApiClient.AuthMethod.PRIVATE_KEY_JWT
        assert [jwk["kid"] for jwk in api_client.jwks["keys"]] == ["demarches-1"]
        detail = browser.get(page["Location"]).content.decode()
        assert 'id="client-secret"' not in detail and "demarches-1" not in detail
        assert "Il prouve qui il est avec sa clé" in detail

    @pytest.mark.parametrize(
        ("jwks", "field"),
        [
            ("", "jwks"),
            ("{not json", "jwks"),
            ('["a list"]', "jwks"),
            ("private", "jwks"),
        ],
    )
    def test_it_refuses_keys_it_cannot_use_and_creates_nothing(self, adele: Agent, jwks: str, field: str) -> None:
        if jwks == "private":
            jwks = json.dumps({"keys": [new_key("ES256").as_dict(private=True)]})
        response = client_for(adele).post(
            reverse("portal-client-new"),
            {"name": "Démarches", "grant": "client-credentials", "authentication": "private_key_jwt", "jwks": jwks},
        )
        assert response.status_code == 400
        assert list(response.context["form"].errors) == [field]
        assert not ApiClient.objects.filter(organisation=adele.organisation).exists()
        assert not AuditEvent.objects.filter(type=EventType.CLIENT_CREATED).exists()

    def test_a_new_client_proves_who_it_is_with_a_key_by_default_outside_demo_mode(
        self, adele: Agent, settings: Any
    ) -> None:
        settings.OAUTH_NEW_CLIENT_AUTH_METHOD = "private_key_jwt"
        form = client_for(adele).get(reverse("portal-client-new")).context["form"]
        assert form["authentication"].value() == "private_key_jwt"
        response = client_for(adele).post(
            reverse("portal-client-new"), {"name": "Démarches", "grant": "client-credentials"}
        )
        assert response.status_code == 400 and list(response.context["form"].errors) == ["jwks"]


def test_the_overlap_is_bounded(adele: Agent) -> None:
    api_client, _secret = create(adele)
    with pytest.raises(ValidationError, match="overlap"):
        client_secret_rotate(api_client=api_client, overlap=dt.timedelta(days=30), actor=agent_actor(adele))
