from __future__ import annotations

import getpass
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.models import ActorKind
from audit.services import Actor
from core.errors import GatewayError
from providers.models import AgentRole, Organisation
from providers.selectors import agent_get_by_email, agent_roles
from providers.services import role_grant, role_revoke


class Command(BaseCommand):
    help = (
        "Gives an agent a role in their organisation (or takes it away with --revoke): how an operator "
        "names an organisation's first administrator. The agent must have logged in once (ProConnect)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organisation", required=True, help="SIRET of the agent's organisation")
        parser.add_argument("--email", required=True, help="The agent's professional e-mail address")
        parser.add_argument("--role", required=True, choices=AgentRole.Role.values)
        parser.add_argument("--revoke", action="store_true", help="Take the role away instead")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = Organisation.objects.filter(siret=options["organisation"]).first()
        if organisation is None:
            raise CommandError(f"No organisation has the SIRET {options['organisation']!r}.")
        # The operator, as the trail records them: the system account running the command.
        actor = Actor(ActorKind.OPERATOR, getpass.getuser())
        try:
            agent = agent_get_by_email(organisation=organisation, email=options["email"])
            if options["revoke"]:
                changed = role_revoke(agent=agent, role=options["role"], actor=actor)
            else:
                changed = options["role"] not in agent_roles(agent)
                role_grant(agent=agent, role=options["role"], actor=actor)
        except GatewayError as error:
            raise CommandError(str(error)) from None
        verb = "revoked" if options["revoke"] else "granted"
        state = verb if changed else f"already {verb}"
        self.stdout.write(f"{options['role']} {state}: {agent.email} at {organisation.name} ({organisation.siret}).")
