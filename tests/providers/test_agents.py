"""Agents of administrations: their login through a real ProConnect-like provider (oidc-provider,
tests/oidc), tied to their organisation by the SIRET it vouches for; their roles, granted and
revoked through the services (each a role.* event), checked by the role predicate, and managed by
operators with `manage.py grant_role`."""

from __future__ import annotations

import html
import importlib
from io import StringIO
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.apps import apps as django_apps
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.db import connection
from django.test import Client

from audit.models import ActorKind, AuditEvent, EventType
from core.errors import InvalidTransition, PermissionDeniedError, ValidationError
from core.roles import user_has_role
from providers.models import Agent, AgentRole, Organisation
from providers.services import role_grant, role_revoke
from providers.services.agents import agent_actor
from tests.agents import OPERATOR, make_agent
from tests.oidc.fixtures import MAIRIE_SIRET, OidcServers, callback_path

pytestmark = pytest.mark.django_db

SPACE = "/agents/"


@pytest.fixture
def browser(catalogue: None) -> Client:
    return Client(SERVER_NAME="localhost")


def proconnect_login(browser: Client, oidc: OidcServers, login: str, *, session: requests.Session | None = None) -> Any:
    start = browser.post("/agents/connexion/proconnect/", {"next": SPACE})
    assert start.status_code == 302
    assert parse_qs(urlsplit(start["Location"]).query)["scope"] == ["openid email given_name usual_name siret uid"]
    return browser.get(callback_path(oidc.authorize(start["Location"], login, session=session)))


def events(type: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(type=type).order_by("id"))


class TestLogin:
    def test_an_agent_logs_in_with_proconnect_and_is_tied_to_their_organisation(
        self, browser: Client, oidc: OidcServers, mairie: Organisation
    ) -> None:
        response = proconnect_login(browser, oidc, "agent-mairie")

        assert response.status_code == 302 and response["Location"] == SPACE
        agent = Agent.objects.get()
        assert (agent.organisation, agent.email, agent.given_name, agent.usual_name, agent.uid) == (
            mairie,
            "agent-mairie@administration.example.fr",
            "Camille",
            "Roux",
            "uid-agent-mairie",
        )
        assert agent.issuer == oidc.issuers["proconnect"]
        assert not agent.user.has_usable_password() and not agent.user.is_staff
        page = html.unescape(browser.get(SPACE).content.decode())
        assert "Mairie de Villeurbanne" in page
        assert "Vous n'avez pas encore de rôle" in page

    def test_an_agent_whose_siret_matches_no_organisation_gets_a_clear_page_not_an_account(
        self, browser: Client, oidc: OidcServers
    ) -> None:
        users = User.objects.count()

        response = proconnect_login(browser, oidc, "agent-inconnu")

        assert response.status_code == 403
        assert "Votre organisation n'est pas inscrite sur cette passerelle" in html.unescape(response.content.decode())
        assert not Agent.objects.exists() and User.objects.count() == users
        assert [event.detail for event in events(EventType.AGENT_LOGIN_FAILED)] == [
            {"reason": "organisation_unknown", "provider": "proconnect"}
        ]
        assert browser.get(SPACE).status_code == 302

    def test_a_flawed_id_token_is_refused(self, browser: Client, oidc: OidcServers) -> None:
        oidc.fault("proconnect", "bad_signature")

        response = proconnect_login(browser, oidc, "agent-mairie")

        assert response.status_code == 400
        assert not Agent.objects.exists()
        assert [event.detail["reason"] for event in events(EventType.AGENT_LOGIN_FAILED)] == ["bad_signature"]

    def test_logging_out_ends_the_session_here_and_at_proconnect(self, browser: Client, oidc: OidcServers) -> None:
        provider_browser = requests.Session()
        proconnect_login(browser, oidc, "agent-mairie", session=provider_browser)

        response = browser.post("/agents/deconnexion/")

        assert response["Location"].startswith(oidc.issuers["proconnect"] + "/session/end?")
        back = oidc.follow(response["Location"], session=provider_browser)
        page = html.unescape(browser.get(callback_path(back)).content.decode())
        assert "Vous êtes déconnecté(e) de la passerelle et de ProConnect." in page
        assert browser.get(SPACE).status_code == 302

    def test_the_demo_login_exists_in_demo_mode_only(self, browser: Client, settings: Any) -> None:
        response = browser.post("/agents/connexion/demo/", {"organisation": MAIRIE_SIRET, "next": ""})
        assert response.status_code == 302
        assert Agent.objects.get().issuer == ""

        settings.DEMO_MODE = False
        assert Client().get("/agents/connexion/demo/").status_code == 404


class TestRoles:
    def test_an_operator_grants_the_first_administrator_and_it_is_recorded(self, mairie: Organisation) -> None:
        agent = make_agent(mairie, "camille")

        role = role_grant(agent=agent, role="administrator", actor=OPERATOR)
        again = role_grant(agent=agent, role="administrator", actor=OPERATOR)

        assert role.pk == again.pk and (role.organisation, role.granted_by) == (mairie, "operateur")
        (event,) = events(EventType.ROLE_GRANTED)
        assert (event.actor_kind, event.actor, event.detail) == (
            ActorKind.OPERATOR,
            "operateur",
            {"organisation": mairie.siret, "agent": agent.actor_id, "role": "administrator"},
        )

    def test_an_administrator_manages_the_members_of_their_organisation(self, mairie: Organisation) -> None:
        admin = make_agent(mairie, "camille", roles=["administrator"])
        colleague = make_agent(mairie, "louis")

        role_grant(agent=colleague, role="habilitation_manager", actor=agent_actor(admin))
        assert user_has_role(colleague.user, "habilitation_manager")
        assert role_revoke(agent=colleague, role="habilitation_manager", actor=agent_actor(admin))

        assert not user_has_role(colleague.user, "habilitation_manager")
        assert [event.actor for event in events(EventType.ROLE_REVOKED)] == [admin.actor_id]

    @pytest.mark.parametrize("acting_roles", [[], ["habilitation_manager"]])
    def test_a_member_who_is_not_administrator_cannot_grant(
        self, mairie: Organisation, acting_roles: list[str]
    ) -> None:
        member = make_agent(mairie, "camille", roles=acting_roles)
        colleague = make_agent(mairie, "louis")
        before = AuditEvent.objects.count()

        with pytest.raises(PermissionDeniedError):
            role_grant(agent=colleague, role="habilitation_manager", actor=agent_actor(member))

        assert not AgentRole.objects.filter(agent=colleague).exists()
        assert AuditEvent.objects.count() == before

    def test_an_administrator_of_another_organisation_cannot_grant(
        self, mairie: Organisation, cnaf: Organisation
    ) -> None:
        other = make_agent(cnaf, "ines", roles=["administrator"])
        colleague = make_agent(mairie, "louis")

        with pytest.raises(PermissionDeniedError):
            role_grant(agent=colleague, role="habilitation_manager", actor=agent_actor(other))
        assert not AgentRole.objects.filter(agent=colleague).exists()

    def test_the_last_administrator_stays_unless_an_operator_removes_them(self, mairie: Organisation) -> None:
        admin = make_agent(mairie, "camille", roles=["administrator"])

        with pytest.raises(InvalidTransition):
            role_revoke(agent=admin, role="administrator", actor=agent_actor(admin))
        assert user_has_role(admin.user, "administrator")

        assert role_revoke(agent=admin, role="administrator", actor=OPERATOR)
        assert not user_has_role(admin.user, "administrator")

    def test_an_unknown_role_is_refused(self, mairie: Organisation) -> None:
        with pytest.raises(ValidationError):
            role_grant(agent=make_agent(mairie, "camille"), role="superuser", actor=OPERATOR)
        assert not events(EventType.ROLE_GRANTED)

    def test_roles_count_in_the_agent_s_organisation_while_it_is_active(
        self, mairie: Organisation, cnaf: Organisation
    ) -> None:
        agent = make_agent(mairie, "camille", roles=["habilitation_manager"])
        assert user_has_role(agent.user, "habilitation_manager") and not user_has_role(agent.user, "administrator")

        Organisation.objects.filter(pk=mairie.pk).update(active=False)
        assert not user_has_role(agent.user, "habilitation_manager")
        Organisation.objects.filter(pk=mairie.pk).update(active=True)

        # The agent's next login vouches for another organisation: the old roles stay behind.
        make_agent(cnaf, "camille")
        assert not user_has_role(agent.user, "habilitation_manager")


class TestAuditorRole:
    """The auditor reads every organisation's exchanges: only a supervisory body's agents may be."""

    def test_an_organisation_s_administrator_cannot_make_itself_auditor(self, cd_rhone: Organisation) -> None:
        admin = make_agent(cd_rhone, "adele", roles=["administrator"])
        before = AuditEvent.objects.count()

        with pytest.raises(PermissionDeniedError):
            role_grant(agent=admin, role="auditor", actor=agent_actor(admin))

        assert not user_has_role(admin.user, "auditor")
        assert not AgentRole.objects.filter(role="auditor").exists()
        assert AuditEvent.objects.count() == before

    def test_not_even_an_operator_makes_an_exchanging_organisation_s_agent_auditor(self, cnaf: Organisation) -> None:
        agent = make_agent(cnaf, "ines")
        out = StringIO()
        with pytest.raises(CommandError):
            call_command(
                "grant_role", "--organisation", cnaf.siret, "--email", agent.email, "--role", "auditor", stdout=out
            )
        with pytest.raises(PermissionDeniedError):
            role_grant(agent=agent, role="auditor", actor=OPERATOR)
        assert not AgentRole.objects.filter(role="auditor").exists()
        assert not events(EventType.ROLE_GRANTED)

    def test_a_supervisory_body_s_administrator_grants_it(self, supervisor: Organisation) -> None:
        admin = make_agent(supervisor, "salome", roles=["administrator"])
        colleague = make_agent(supervisor, "axel")

        role_grant(agent=colleague, role="auditor", actor=agent_actor(admin))

        assert user_has_role(colleague.user, "auditor")
        assert [event.actor for event in events(EventType.ROLE_GRANTED)][-1] == admin.actor_id

    def test_a_stray_auditor_row_outside_a_supervisory_body_grants_nothing(self, mairie: Organisation) -> None:
        agent = make_agent(mairie, "camille")
        AgentRole.objects.create(agent=agent, organisation=mairie, role="auditor", granted_by="before-the-rule")

        assert not user_has_role(agent.user, "auditor")

    def test_the_migration_withdraws_earlier_grants_with_their_events(
        self, mairie: Organisation, supervisor: Organisation
    ) -> None:
        stray = make_agent(mairie, "camille", roles=["administrator"])
        AgentRole.objects.create(agent=stray, organisation=mairie, role="auditor", granted_by=stray.actor_id)
        kept = make_agent(supervisor, "axel", roles=["auditor"])
        migration = importlib.import_module("providers.migrations.0013_auditor_role_supervisory_bodies_only")

        migration.auditor_grants_withdraw(django_apps, SimpleNamespace(connection=connection))

        assert list(AgentRole.objects.filter(role="auditor").values_list("agent", flat=True)) == [kept.pk]
        assert AgentRole.objects.filter(agent=stray, role="administrator").exists()
        (revoked,) = events(EventType.ROLE_REVOKED)
        assert revoked.actor_kind == ActorKind.SYSTEM
        assert revoked.detail["agent"] == stray.actor_id and revoked.detail["role"] == "auditor"


class TestGrantRoleCommand:
    def test_an_operator_grants_and_revokes_by_email(self, mairie: Organisation) -> None:
        agent = make_agent(mairie, "camille")
        out = StringIO()

        call_command(
            "grant_role", "--organisation", mairie.siret, "--email", agent.email, "--role", "administrator", stdout=out
        )
        assert "administrator granted" in out.getvalue()
        assert user_has_role(agent.user, "administrator")
        (event,) = events(EventType.ROLE_GRANTED)
        assert event.actor_kind == ActorKind.OPERATOR

        call_command(
            "grant_role", "--organisation", mairie.siret, "--email", agent.email, "--role", "administrator", "--revoke"
        )
        assert not user_has_role(agent.user, "administrator")

    def test_an_agent_who_never_logged_in_cannot_be_named(self, mairie: Organisation) -> None:
        with pytest.raises(CommandError, match="No agent"):
            call_command(
                "grant_role", "--organisation", mairie.siret, "--email", "nobody@example.fr", "--role", "auditor"
            )
        assert not AgentRole.objects.exists()
