"""Personas shared by every suite.

alice and bob are citizens from the synthetic population (so providers know them), mairie is a
consumer with approved habilitations for every demo type, cd_rhone a consumer with none, cnaf and
dgfip are providers. Tokens are real django-oauth-toolkit access tokens sent as bearer headers.
"""

from __future__ import annotations

import datetime as dt
import http.client
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from consent.models import Citizen
from consent.services.citizens import citizen_from_person
from providers.demo import DEMO_CONSUMER, DEMO_CONSUMER_WITHOUT_HABILITATION, catalogue_load, demo_habilitations_load
from providers.demodata.population import Population, demo_citizens
from providers.models import ApiClient, Organisation
from sandbox.server import SandboxProviderServer, make_server
from tests.oidc.fixtures import oidc, oidc_servers  # noqa: F401 - the test OpenID providers, for every suite

SANDBOX_TOKEN = "sandbox-test-token"


@dataclass
class ApiCaller:
    """A consumer's OAuth client and one bearer token, ready for `client.get(..., headers=...)`."""

    organisation: Organisation
    application: Application
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture(scope="session")
def population() -> Population:
    return Population()


@pytest.fixture
def catalogue(db: None) -> None:
    catalogue_load()
    demo_habilitations_load()


@pytest.fixture
def mairie(catalogue: None) -> Organisation:
    return Organisation.objects.get(code=DEMO_CONSUMER)


@pytest.fixture
def cd_rhone(catalogue: None) -> Organisation:
    return Organisation.objects.get(code=DEMO_CONSUMER_WITHOUT_HABILITATION)


@pytest.fixture
def cnaf(catalogue: None) -> Organisation:
    return Organisation.objects.get(code="cnaf")


@pytest.fixture
def dgfip(catalogue: None) -> Organisation:
    return Organisation.objects.get(code="dgfip")


@pytest.fixture
def alice(db: None, population: Population) -> Citizen:
    """Known to all five datasets."""
    return citizen_from_person(person=demo_citizens(population)[0], subject="alice-sub")


@pytest.fixture
def bob(db: None, population: Population) -> Citizen:
    """Known to the CAF, the DGFiP and France Travail."""
    return citizen_from_person(person=demo_citizens(population)[1], subject="bob-sub")


@pytest.fixture
def make_caller(db: None) -> Callable[..., ApiCaller]:
    def make(
        organisation: Organisation,
        scopes: str = "consents:read consents:write",
        *,
        grant: str = Application.GRANT_CLIENT_CREDENTIALS,
        allowed_scopes: str = "consents:read consents:write",
    ) -> ApiCaller:
        application = Application.objects.create(
            name=f"{organisation.code} client",
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=grant,
            redirect_uris="https://client.example.fr/callback" if grant != Application.GRANT_CLIENT_CREDENTIALS else "",
            algorithm="",
        )
        ApiClient.objects.create(application=application, organisation=organisation, allowed_scopes=allowed_scopes)
        token = secrets.token_urlsafe(32)
        AccessToken.objects.create(
            application=application, token=token, scope=scopes, expires=timezone.now() + dt.timedelta(minutes=10)
        )
        return ApiCaller(organisation=organisation, application=application, token=token)

    return make


@pytest.fixture
def mairie_caller(mairie: Organisation, make_caller: Callable[..., ApiCaller]) -> ApiCaller:
    return make_caller(mairie)


@pytest.fixture
def cd_rhone_caller(cd_rhone: Organisation, make_caller: Callable[..., ApiCaller]) -> ApiCaller:
    return make_caller(cd_rhone)


def _sandbox_faults_clear(base_url: str) -> None:
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
    try:
        connection.request("DELETE", "/_sandbox/faults", headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"})
        assert connection.getresponse().status == 200
    finally:
        connection.close()


@pytest.fixture(scope="session")
def sandbox_server(population: Population) -> Iterator[SandboxProviderServer]:
    # A `timeout` fault holds the request for 5 s: longer than any adapter timeout a test sets.
    server = make_server("127.0.0.1", 0, token=SANDBOX_TOKEN, population=population, timeout_fault_seconds=5.0)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def sandbox_url(sandbox_server: SandboxProviderServer, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Base URL of a real sandbox provider (HTTP on 127.0.0.1, same population as the personas).

    Faults are cleared before and after each test (PUT {url}/_sandbox/faults with the bearer
    SANDBOX_TOKEN sets one). For the test's duration the gateway may reach 127.0.0.1
    (OUTBOUND_ALLOWED_HOSTS) and finds the token in $SANDBOX_PROVIDER_TOKEN, as `catalogue_load(
    adapter_kind="http", base_url=sandbox_url)` configures the types.
    """
    monkeypatch.setenv("SANDBOX_PROVIDER_TOKEN", SANDBOX_TOKEN)
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    _sandbox_faults_clear(sandbox_server.url)
    yield sandbox_server.url
    _sandbox_faults_clear(sandbox_server.url)
