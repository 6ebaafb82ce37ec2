"""manage.py create_client: an operator creates a consumer's OAuth client; the secret shows once."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from oauth2_provider.models import Application

from providers.models import ApiClient, Organisation
from tests.gateway.conftest import QF, basic_auth


def create(*args: str) -> dict[str, object]:
    out = StringIO()
    call_command("create_client", *args, "--json", stdout=out)
    result: dict[str, object] = json.loads(out.getvalue())
    return result


class TestCreateClient:
    @pytest.mark.usefixtures("production_password_hashers")
    def test_it_prints_a_secret_that_works_once_and_stores_only_its_hash(
        self, client: Client, mairie: Organisation
    ) -> None:
        created = create("--organisation", mairie.siret, "--name", "Portail famille", "--scopes", "consents:read")

        application = Application.objects.get(client_id=created["client_id"])
        assert application.client_secret != created["client_secret"]
        # The keyed hash of gateway.oauth.hashers (tests/gateway/test_oauth_endpoints.py).
        assert application.client_secret.startswith("hmac_sha256$")
        assert str(created["client_secret"]) not in application.client_secret
        assert not application.skip_authorization
        assert application.authorization_grant_type == Application.GRANT_CLIENT_CREDENTIALS
        assert ApiClient.objects.get(application=application).organisation == mairie
        assert created["scopes"] == ["consents:read"]
        response = client.post(
            "/oauth/token/",
            {"grant_type": "client_credentials", "scope": f"attestations:{QF} consents:read"},
            HTTP_AUTHORIZATION=basic_auth(str(created["client_id"]), str(created["client_secret"])),
        )
        assert response.status_code == 200

    def test_it_creates_an_authorization_code_client(self, mairie: Organisation) -> None:
        created = create(
            "--organisation",
            mairie.siret,
            "--name",
            "Guichet",
            "--grant",
            "authorization-code",
            "--redirect-uri",
            "https://guichet.example.fr/oauth/callback",
        )

        assert created["redirect_uris"] == ["https://guichet.example.fr/oauth/callback"]
        assert created["grant"] == Application.GRANT_AUTHORIZATION_CODE

    @pytest.mark.parametrize(
        "args",
        [
            ["--grant", "authorization-code"],
            ["--grant", "authorization-code", "--redirect-uri", "http://guichet.example.fr/cb"],
            ["--grant", "authorization-code", "--redirect-uri", "https://guichet.example.fr/cb#x"],
            ["--redirect-uri", "https://guichet.example.fr/cb"],
            ["--scopes", "attestations:cnaf.quotient-familial"],
            ["--scopes", "admin"],
        ],
    )
    def test_it_refuses_a_bad_client_and_creates_nothing(self, mairie: Organisation, args: list[str]) -> None:
        with pytest.raises(CommandError):
            create("--organisation", mairie.siret, "--name", "X", *args)

        assert not Application.objects.exists()

    def test_it_refuses_an_unknown_organisation(self, catalogue: None) -> None:
        with pytest.raises(CommandError, match="No organisation"):
            create("--organisation", "00000000000000", "--name", "X")

        assert not Application.objects.exists()
