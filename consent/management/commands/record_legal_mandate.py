from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from consent.models import Citizen, Mandate
from consent.services.representation import legal_mandate_record
from core.errors import ValidationError


class Command(BaseCommand):
    help = (
        "Records a legal mandate (a guardian for an adult, a parent for a minor): the agent may act for the "
        "principal, for these attestation types and actions, until a date, on a legal source. Audited."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--principal", required=True, help="Id of the Citizen acted for")
        parser.add_argument("--agent", required=True, help="Id of the Citizen who acts")
        parser.add_argument("--types", required=True, help="Attestation type slugs, space separated")
        parser.add_argument(
            "--actions", default="approve revoke read_history", help=f"Among: {' '.join(Mandate.Action.values)}"
        )
        parser.add_argument("--until", required=True, help="Last day, YYYY-MM-DD")
        parser.add_argument("--source", required=True, help="The legal source (court decision, birth certificate)")
        parser.add_argument("--operator", required=True, help="Who records it (kept in the trail)")

    def handle(self, *args: Any, **options: Any) -> None:
        ids = [_uuid(options["principal"]), _uuid(options["agent"])]
        people = {person.pk: person for person in Citizen.objects.filter(pk__in=ids)}
        principal, agent = people.get(ids[0]), people.get(ids[1])
        if principal is None or agent is None:
            raise CommandError("No citizen has this id.")
        try:
            last_day = dt.date.fromisoformat(options["until"])
        except ValueError:
            raise CommandError("--until: a date as YYYY-MM-DD.") from None
        until = dt.datetime.combine(last_day, dt.time(23, 59, 59), tzinfo=timezone.get_current_timezone())
        try:
            mandate = legal_mandate_record(
                principal=principal,
                agent=agent,
                types=options["types"].split(),
                actions=options["actions"].split(),
                valid_until=until,
                legal_source=options["source"],
                operator=options["operator"],
            )
        except ValidationError as error:
            raise CommandError(error.detail) from None
        self.stdout.write(f"Legal mandate {mandate.pk} recorded, in force until {last_day.isoformat()}.\n")


def _uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise CommandError("A citizen id is a UUID.") from None
