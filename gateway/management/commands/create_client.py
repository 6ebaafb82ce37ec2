from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from oauth2_provider.models import Application

from core.errors import ValidationError
from gateway.services.clients import GRANTS, client_create
from providers.models import Organisation


class Command(BaseCommand):
    help = "Creates an OAuth client for a consumer organisation and prints its secret, once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--organisation", required=True, help="SIRET of the consumer organisation")
        parser.add_argument("--name", required=True)
        parser.add_argument("--grant", choices=GRANTS, default=Application.GRANT_CLIENT_CREDENTIALS)
        parser.add_argument("--redirect-uri", action="append", default=[], dest="redirect_uris")
        parser.add_argument(
            "--scopes",
            default="consents:read consents:write",
            help="Non-attestation scopes the client may hold (space separated); "
            "attestations:<slug> follow the organisation's habilitations",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = Organisation.objects.filter(siret=options["organisation"]).first()
        if organisation is None:
            raise CommandError(f"No organisation has the SIRET {options['organisation']!r}.")
        try:
            client = client_create(
                organisation=organisation,
                name=options["name"],
                grant=options["grant"],
                redirect_uris=options["redirect_uris"],
                scopes=options["scopes"].split(),
            )
        except ValidationError as error:
            raise CommandError(json.dumps(error.problem().get("errors", {}), ensure_ascii=False)) from None
        summary = {
            "client_id": client.application.client_id,
            "client_secret": client.client_secret,
            "organisation": organisation.siret,
            "name": client.application.name,
            "grant": client.application.authorization_grant_type,
            "redirect_uris": client.application.redirect_uris.split(),
            "scopes": client.api_client.allowed_scopes.split(),
        }
        if options["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False))
            return
        for key, value in summary.items():
            self.stdout.write(f"{key}: {' '.join(value) if isinstance(value, list) else value}")
        self.stdout.write(self.style.WARNING("The secret is shown once; it is stored hashed."))
