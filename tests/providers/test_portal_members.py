"""The portal's members page: an administrator invites an address (an email in their language
arrives at the SMTP server), the invited person gets their roles at their ProConnect login with
that address and the organisation's SIRET; roles are granted and withdrawn; bad input changes
nothing; another organisation's agents are a 404, other roles a 403."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from audit.models import AuditEvent, EventType
from gateway.celery import app as celery_app
from providers.models import Agent, AgentInvitation, AgentRole, Organisation
from providers.selectors import agent_roles
from providers.services import agent_login
from providers.services.agents import AgentProfile
from tests.agents import make_agent
from tests.mail import Mailbox, body, subject

Role = AgentRole.Role
INVITED = "hugo.martin@cd-rhone.example.fr"


def client_for(agent: Agent, language: str = "fr") -> Client:
    client = Client()
    client.force_login(agent.user)
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def log_in(organisation: Organisation, email: str, login: str = "hugo") -> Agent:
    return agent_login(
        issuer="https://proconnect.test",
        subject=f"sub-{login}-{organisation.code}",
        profile=AgentProfile(siret=organisation.siret, email=email, given_name="Hugo", usual_name="Martin"),
    )


@pytest.fixture
def eager() -> Iterator[None]:
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def adele(cd_rhone: Organisation) -> Agent:
    return make_agent(cd_rhone, "adele", roles=[Role.ADMINISTRATOR])


class TestInvitations:
    @pytest.mark.usefixtures("eager")
    def test_an_invited_address_gets_its_roles_at_its_login(
        self,
        adele: Agent,
        cd_rhone: Organisation,
        mairie: Organisation,
        mailbox: Mailbox,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        admin = client_for(adele, "en")
        admin.get(reverse("portal-members"))  # the administrator reads the portal in English
        with django_capture_on_commit_callbacks(execute=True):
            response = admin.post(reverse("portal-members"), {"email": INVITED, "roles": [Role.HABILITATION_MANAGER]})
        assert response.status_code == 302

        (message,) = mailbox.to(INVITED)
        assert (
            subject(message) == "You are invited to act for Conseil départemental du Rhône on the data exchange gateway"
        )
        assert "Habilitation manager" in body(message) and "/agents/connexion/" in body(message)
        event = AuditEvent.objects.get(type=EventType.AGENT_INVITED)
        assert event.actor == adele.actor_id and INVITED not in str(event.detail)
        assert INVITED in admin.get(reverse("portal-members")).content.decode()

        # The same address at another organisation's SIRET gets nothing of it.
        elsewhere = log_in(mairie, INVITED, login="hugo-mairie")
        assert agent_roles(elsewhere) == []
        invited = log_in(cd_rhone, INVITED.upper())
        assert agent_roles(invited) == [Role.HABILITATION_MANAGER]
        assert AgentInvitation.objects.get().accepted_by == invited

    @pytest.mark.parametrize(
        ("data", "field"),
        [
            ({"email": "pas-une-adresse", "roles": [Role.HABILITATION_MANAGER]}, "email"),
            ({"email": INVITED}, "roles"),
            ({"email": INVITED, "roles": ["superuser"]}, "roles"),
        ],
    )
    def test_bad_input_is_refused_next_to_its_field(self, adele: Agent, data: dict[str, Any], field: str) -> None:
        response = client_for(adele).post(reverse("portal-members"), data)
        assert response.status_code == 400
        assert list(response.context["form"].errors) == [field]
        assert not AgentInvitation.objects.exists()
        assert not AuditEvent.objects.filter(type=EventType.AGENT_INVITED).exists()

    def test_a_member_s_address_is_not_invited_again(self, adele: Agent, cd_rhone: Organisation) -> None:
        bruno = make_agent(cd_rhone, "bruno", roles=[Role.HABILITATION_MANAGER])
        response = client_for(adele, "en").post(
            reverse("portal-members"), {"email": bruno.email.upper(), "roles": [Role.ADMINISTRATOR]}
        )
        assert response.status_code == 400
        assert response.context["form"].errors["email"] == [
            "This person is already a member of your organisation: change their roles in the list."
        ]
        assert not AgentInvitation.objects.exists()
        assert not AuditEvent.objects.filter(type=EventType.AGENT_INVITED).exists()
        assert agent_roles(bruno) == [Role.HABILITATION_MANAGER]


class TestRoles:
    def test_an_administrator_grants_and_withdraws_roles_but_keeps_one_administrator(
        self, adele: Agent, cd_rhone: Organisation
    ) -> None:
        colin = make_agent(cd_rhone, "colin")
        admin = client_for(adele)
        url = reverse("portal-member-role", args=[colin.pk])
        assert admin.post(url, {"role": Role.HABILITATION_MANAGER, "action": "grant"}).status_code == 302
        assert agent_roles(colin) == [Role.HABILITATION_MANAGER]
        admin.post(url, {"role": Role.HABILITATION_MANAGER, "action": "withdraw"})
        assert agent_roles(colin) == []

        admin.post(reverse("portal-member-role", args=[adele.pk]), {"role": Role.ADMINISTRATOR, "action": "withdraw"})
        assert agent_roles(adele) == [Role.ADMINISTRATOR]
        page = admin.get(reverse("portal-members")).content.decode()
        assert "Une organisation garde au moins un administrateur : demandez à un opérateur." in page
        granted = AuditEvent.objects.filter(type=EventType.ROLE_GRANTED, actor=adele.actor_id).count()
        assert granted == 1


class TestAuditorRole:
    """The reviewer's path: Conseil départemental's administrator made itself auditor of the whole
    gateway from this page. The auditor role belongs to the gateway's operator only."""

    def test_an_administrator_is_not_offered_nor_given_the_auditor_role(self, adele: Agent) -> None:
        admin = client_for(adele)
        page = admin.get(reverse("portal-members")).content.decode()
        assert "Donner : Gestionnaire des habilitations" in page
        assert "Donner : Auditeur" not in page
        assert 'value="auditor"' not in page

        response = admin.post(reverse("portal-member-role", args=[adele.pk]), {"role": Role.AUDITOR, "action": "grant"})

        assert response.status_code == 302
        assert Role.AUDITOR not in agent_roles(adele)
        assert not AuditEvent.objects.filter(type=EventType.ROLE_GRANTED, actor=adele.actor_id).exists()
        assert Client().get("/audit/console/").status_code != 200
        admin_console = admin.get("/audit/console/?search=1&consumer=21690266800013&type=exchange.succeeded")
        assert admin_console.status_code == 403

    def test_nor_can_invite_an_auditor(self, adele: Agent) -> None:
        response = client_for(adele).post(reverse("portal-members"), {"email": INVITED, "roles": [Role.AUDITOR]})

        assert response.status_code == 400
        assert list(response.context["form"].errors) == ["roles"]
        assert not AgentInvitation.objects.exists()

    def test_the_operator_s_administrator_is_offered_it(self, supervisor: Organisation) -> None:
        admin = make_agent(supervisor, "salome", roles=[Role.ADMINISTRATOR])
        colleague = make_agent(supervisor, "axel")
        client = client_for(admin)
        assert "Donner : Auditeur" in client.get(reverse("portal-members")).content.decode()

        client.post(reverse("portal-member-role", args=[colleague.pk]), {"role": Role.AUDITOR, "action": "grant"})

        assert agent_roles(colleague) == [Role.AUDITOR]


class TestIsolation:
    def test_another_organisations_administrator_cannot_touch_our_agents(
        self, adele: Agent, cd_rhone: Organisation, mairie: Organisation
    ) -> None:
        colin = make_agent(cd_rhone, "colin")
        stranger = client_for(make_agent(mairie, "mallory", roles=[Role.ADMINISTRATOR]))
        url = reverse("portal-member-role", args=[colin.pk])
        assert stranger.post(url, {"role": Role.ADMINISTRATOR, "action": "grant"}).status_code == 404
        assert agent_roles(colin) == []
        assert "colin@" not in stranger.get(reverse("portal-members")).content.decode()

    @pytest.mark.parametrize("role", [Role.HABILITATION_MANAGER])
    def test_only_administrators_manage_members(self, adele: Agent, cd_rhone: Organisation, role: str) -> None:
        colleague = make_agent(cd_rhone, "colin", roles=[role])
        client = client_for(colleague)
        assert client.get(reverse("portal-members")).status_code == 403
        assert (
            client.post(reverse("portal-members"), {"email": INVITED, "roles": [Role.ADMINISTRATOR]}).status_code == 403
        )
        url = reverse("portal-member-role", args=[colleague.pk])
        assert client.post(url, {"role": Role.ADMINISTRATOR, "action": "grant"}).status_code == 403
        assert agent_roles(colleague) == [role]
        assert not AgentInvitation.objects.exists()
