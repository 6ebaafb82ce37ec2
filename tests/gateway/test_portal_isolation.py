"""Every page and action of the administrations' portal, for everyone who should not reach it:
anyone not logged in as an agent goes to the agents' login; another organisation's agent (with
every role) finds none of our requests, clients or agents (404); our agents without the role the
page needs are refused (403). None of them changes anything. List pages pin their query count."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from audit.models import AuditEvent
from gateway.services.clients import client_create
from providers.models import Agent, AgentRole, ApiClient, AttestationType, Habilitation, Organisation
from providers.selectors import agent_roles
from providers.services import habilitation_submit
from providers.services.agents import agent_actor
from tests.agents import make_agent

Role = AgentRole.Role
QF = "cnaf.quotient-familial"
GET, POST = "get", "post"
FUTURE = (timezone.localdate() + dt.timedelta(days=90)).isoformat()

# (url name, the object its address names, method, data, the roles that may)
HABILITATION_ROLES = {Role.ADMINISTRATOR, Role.HABILITATION_MANAGER}
ADMINISTRATOR = {Role.ADMINISTRATOR}
ANY_ROLE = {Role.ADMINISTRATOR, Role.HABILITATION_MANAGER}
ROUTES: list[tuple[str, str, str, dict[str, Any], set[str]]] = [
    ("portal-habilitations", "", GET, {}, HABILITATION_ROLES),
    ("portal-habilitation-new", "type", GET, {}, HABILITATION_ROLES),
    ("portal-habilitation-new", "type", POST, {"action": "draft"}, HABILITATION_ROLES),
    ("portal-habilitation", "habilitation", GET, {}, HABILITATION_ROLES),
    ("portal-habilitation-edit", "habilitation", GET, {}, HABILITATION_ROLES),
    ("portal-habilitation-submit", "habilitation", POST, {}, HABILITATION_ROLES),
    (
        "portal-habilitation-review",
        "habilitation",
        POST,
        {"decision": "approve", "valid_until": FUTURE},
        HABILITATION_ROLES,
    ),
    ("portal-habilitation-revoke", "habilitation", POST, {"revoke-reason": "Fin."}, HABILITATION_ROLES),
    (
        "portal-habilitation-extension",
        "habilitation",
        POST,
        {"extension-until": FUTURE, "extension-reason": "Suite."},
        HABILITATION_ROLES,
    ),
    (
        "portal-habilitation-extension-decision",
        "habilitation",
        POST,
        {"extension_decision-decision": "grant"},
        HABILITATION_ROLES,
    ),
    ("portal-clients", "", GET, {}, ADMINISTRATOR),
    ("portal-client-new", "", GET, {}, ADMINISTRATOR),
    ("portal-client-new", "", POST, {"name": "Intrus", "grant": "client-credentials"}, ADMINISTRATOR),
    ("portal-client", "client", GET, {}, ADMINISTRATOR),
    ("portal-client-rotate", "client", POST, {"rotate-overlap": "0"}, ADMINISTRATOR),
    ("portal-client-redirect-uris", "client", POST, {"redirect-redirect_uris": ""}, ADMINISTRATOR),
    ("portal-client-disable", "client", POST, {}, ADMINISTRATOR),
    ("portal-members", "", GET, {}, ADMINISTRATOR),
    ("portal-members", "", POST, {"email": "intrus@example.fr", "roles": ["administrator"]}, ADMINISTRATOR),
    ("portal-member-role", "member", POST, {"role": "administrator", "action": "grant"}, ADMINISTRATOR),
    ("portal-webhooks", "", GET, {}, ADMINISTRATOR),
    ("portal-webhook-endpoint", "", POST, {"endpoint-url": "https://intrus.example.fr/"}, ADMINISTRATOR),
    ("portal-webhook-key", "", POST, {}, ADMINISTRATOR),
    ("portal-operations", "", GET, {}, ANY_ROLE),
    ("portal-integration", "", GET, {}, ANY_ROLE),
    ("portal-provider", "", GET, {}, HABILITATION_ROLES),
]


class World:
    def __init__(self, cd_rhone: Organisation) -> None:
        self.admin = make_agent(cd_rhone, "adele", roles=[Role.ADMINISTRATOR])
        self.member = make_agent(cd_rhone, "colin")
        self.habilitation = habilitation_submit(
            consumer=cd_rhone,
            attestation_type=AttestationType.objects.get(slug=QF),
            actor=agent_actor(self.admin),
            fields=["quotient_familial"],
            purpose_code="tarification-sociale",
            purpose_text="Cantine",
            legal_basis="CRPA",
            retention_days=30,
            dpo_email="dpo@cd-rhone.sandbox.invalid",
        )
        self.client = client_create(organisation=cd_rhone, name="Démarches", actor=agent_actor(self.admin)).api_client

    def url(self, name: str, target: str) -> str:
        args: list[Any] = {
            "": [],
            "type": [QF],
            "habilitation": [self.habilitation.pk],
            "client": [self.client.pk],
            "member": [self.member.pk],
        }[target]
        return reverse(name, args=args)

    def state(self) -> tuple[Any, ...]:
        habilitation = Habilitation.objects.get(pk=self.habilitation.pk)
        client = ApiClient.objects.select_related("application").get(pk=self.client.pk)
        organisation = Organisation.objects.get(pk=self.admin.organisation_id)
        return (
            organisation.webhook_url,
            bytes(organisation.webhook_secret),
            habilitation.status,
            habilitation.version,
            client.application.client_secret,
            client.disabled_at,
            client.application.redirect_uris,
            agent_roles(self.member),
            ApiClient.objects.count(),
            Habilitation.objects.count(),
            AuditEvent.objects.count(),
        )


@pytest.fixture
def world(cd_rhone: Organisation, cnaf: Organisation) -> World:
    return World(cd_rhone)


def request(client: Client, method: str, url: str, data: dict[str, Any]) -> Any:
    return client.get(url) if method == GET else client.post(url, data)


def logged_in(agent: Agent) -> Client:
    client = Client()
    client.force_login(agent.user)
    return client


@pytest.mark.parametrize(("name", "target", "method", "data", "roles"), ROUTES)
class TestEveryPage:
    def test_anyone_not_an_agent_goes_to_the_login(
        self, world: World, name: str, target: str, method: str, data: dict[str, Any], roles: set[str]
    ) -> None:
        before = world.state()
        response = request(Client(), method, world.url(name, target), data)
        assert response.status_code == 302 and response["Location"].startswith(reverse("agent-login"))
        assert world.state() == before

    def test_another_organisations_agent_finds_nothing_of_ours(
        self,
        world: World,
        mairie: Organisation,
        name: str,
        target: str,
        method: str,
        data: dict[str, Any],
        roles: set[str],
    ) -> None:
        if target in ("", "type"):
            pytest.skip("names nothing of another organisation's")
        stranger = make_agent(mairie, "mallory", roles=list(ANY_ROLE))
        before = world.state()
        assert request(logged_in(stranger), method, world.url(name, target), data).status_code == 404
        assert world.state() == before

    def test_our_agents_without_any_role_are_refused(
        self,
        world: World,
        cd_rhone: Organisation,
        name: str,
        target: str,
        method: str,
        data: dict[str, Any],
        roles: set[str],
    ) -> None:
        before = world.state()
        assert request(logged_in(world.member), method, world.url(name, target), data).status_code == 403
        assert world.state() == before

    def test_our_agents_without_the_role_are_refused(
        self,
        world: World,
        cd_rhone: Organisation,
        name: str,
        target: str,
        method: str,
        data: dict[str, Any],
        roles: set[str],
    ) -> None:
        for role in ANY_ROLE - roles:
            colleague = make_agent(cd_rhone, f"sans-{role}", roles=[role])
            before = world.state()
            assert request(logged_in(colleague), method, world.url(name, target), data).status_code == 403, role
            assert world.state() == before


class TestQueryCounts:
    def test_the_list_pages_do_not_grow_with_their_rows(
        self, world: World, cd_rhone: Organisation, django_assert_max_num_queries: Any
    ) -> None:
        for index in range(5):
            client_create(organisation=cd_rhone, name=f"Client {index}", actor=agent_actor(world.admin))
            make_agent(cd_rhone, f"agent{index}", roles=[Role.HABILITATION_MANAGER])
        admin = logged_in(world.admin)
        for name in (
            "portal-habilitations",
            "portal-clients",
            "portal-members",
            "portal-webhooks",
            "portal-operations",
        ):
            with django_assert_max_num_queries(14):
                assert admin.get(reverse(name)).status_code == 200
