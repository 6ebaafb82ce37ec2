"""Agents for the tests, made as a login and an operator would make them (through the services)."""

from __future__ import annotations

from collections.abc import Iterable

from audit.models import ActorKind
from audit.services import Actor
from providers.models import Agent, Organisation
from providers.services import agent_login, role_grant
from providers.services.agents import AgentProfile

OPERATOR = Actor(ActorKind.OPERATOR, "operateur")


def make_agent(organisation: Organisation, login: str, *, roles: Iterable[str] = ()) -> Agent:
    """The agent `login` of `organisation`, as their first ProConnect login leaves them, with `roles`
    granted by an operator."""
    agent = agent_login(
        issuer="https://proconnect.test",
        subject=f"sub-{login}",
        profile=AgentProfile(
            siret=organisation.siret,
            email=f"{login}@administration.example.fr",
            given_name=login.capitalize(),
            usual_name="Agent",
            uid=f"uid-{login}",
        ),
    )
    for role in roles:
        role_grant(agent=agent, role=role, actor=OPERATOR)
    return agent
