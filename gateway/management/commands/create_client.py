from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from oauth2_provider.models import Application

from core.errors import ValidationError
from gateway.services.clients import GRANTS, client_create
from providers.models import ApiClient, Organisation


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
        parser.add_argument(
            "--auth-method",
            choices=ApiClient.AuthMethod.values,
            default=None,
            help="How the client authenticates (default: OAUTH_NEW_CLIENT_AUTH_METHOD)",
        )
        parser.add_argument(
            "--jwks", help="The client's public JWK set: a JSON document, or @path to a file holding one"
        )
        parser.add_argument("--jwks-uri", default="", help="Where the client publishes its JWK set (https)")
        parser.add_argument("--require-dpop", action="store_true", help="Tokens only with DPoP proofs (RFC 9449)")
        parser.add_argument("--require-par", action="store_true", help="Authorization requests only pushed (RFC 9126)")
        parser.add_argument(
            "--require-encrypted-attestations",
            action="store_true",
            help="Attestations only inside a JWE to the client's use=enc key",
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object")

    def handle(self, *args: Any, **options: Any) -> None:
        organisation = Organisation.objects.filter(siret=options["organisation"]).first()
        if organisation is None:
            raise CommandError(f"No organisation has the SIRET {options['organisation']!r}.")
        jwks = None
        if options["jwks"]:
            text = options["jwks"]
            try:
                if text.startswith("@"):
                    text = Path(text[1:]).read_text()
                jwks = json.loads(text)
            except (OSError, ValueError) as error:
                raise CommandError(f"--jwks is neither JSON nor a readable file holding JSON: {error}") from None
        try:
            client = client_create(
                organisation=organisation,
                name=options["name"],
                grant=options["grant"],
                redirect_uris=options["redirect_uris"],
                scopes=options["scopes"].split(),
                token_endpoint_auth_method=options["auth_method"],
                jwks=jwks,
                jwks_uri=options["jwks_uri"],
                require_dpop=options["require_dpop"],
                require_par=options["require_par"],
                require_encrypted_attestations=options["require_encrypted_attestations"],
            )
        except ValidationError as error:
            raise CommandError(json.dumps(error.problem().get("errors", {}), ensure_ascii=False)) from None
        api_client = client.api_client
        by_secret = api_client.token_endpoint_auth_method == ApiClient.AuthMethod.CLIENT_SECRET_BASIC
        summary: dict[str, Any] = {
            "client_id": client.application.client_id,
            "token_endpoint_auth_method": api_client.token_endpoint_auth_method,
            "organisation": organisation.siret,
            "name": client.application.name,
            "grant": client.application.authorization_grant_type,
            "redirect_uris": client.application.redirect_uris.split(),
            "scopes": api_client.allowed_scopes.split(),
            "require_dpop": api_client.require_dpop,
            "require_par": api_client.require_par,
            "require_encrypted_attestations": api_client.require_encrypted_attestations,
        }
        if by_secret:
            summary["client_secret"] = client.client_secret
        if options["json"]:
            self.stdout.write(json.dumps(summary, ensure_ascii=False))
            return
        for key, value in summary.items():
            self.stdout.write(f"{key}: {' '.join(value) if isinstance(value, list) else value}")
        if by_secret:
            self.stdout.write(self.style.WARNING("The secret is shown once; it is stored hashed."))
