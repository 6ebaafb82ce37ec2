"""Personas shared by every suite.

alice and bob are citizens from the synthetic population (so providers know them), mairie is a
consumer with approved habilitations for every demo type, cd_rhone a consumer with none, cnaf and
dgfip are providers. Tokens are real django-oauth-toolkit access tokens sent as bearer headers.
"""

from __future__ import annotations

import datetime as dt
import http.client
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application
from pytest_django import DjangoDbBlocker

from consent.models import Citizen
from consent.services.citizens import citizen_from_person
from gateway.celery import app as celery_app
from providers.demo import (
    DEMO_CONSUMER,
    DEMO_CONSUMER_WITHOUT_HABILITATION,
    catalogue_load,
    demo_habilitations_load,
    demo_supervisor_load,
)
from providers.demodata.population import Population, demo_citizens
from providers.models import ApiClient, Organisation
from sandbox.server import SandboxProviderServer, make_server
from tests.mail import Mailbox, SmtpServer
from tests.oidc.fixtures import oidc, oidc_servers  # noqa: F401 - the test OpenID providers, for every suite
from tests.processes import CeleryWorker
from tests.snapshots import RowSnapshot

SANDBOX_TOKEN = "sandbox-test-token"


# Tests that start costly processes, to leave out of a quick run (`-m "not slow"`).
SLOW_GROUPS = ("e2e", "celery", "interop", "walkthrough", "faults", "server", "scale")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "celery_worker" in item.fixturenames:
            item.add_marker(pytest.mark.celery)
        if any(item.get_closest_marker(name) for name in SLOW_GROUPS):
            item.add_marker(pytest.mark.slow)
    # The slow tests first (in their order), the quick ones after: with pytest-xdist's work
    # stealing (`make pytest`), a process that finishes its share early takes quick tests off the
    # other's queue, instead of waiting at the end for a browser or a fault test it could not share.
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@dataclass
class ApiCaller:
    """A consumer's OAuth client and one bearer token, ready for `client.get(..., headers=...)`."""

    organisation: Organisation
    application: Application
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


# What the product hashes passwords with (PBKDF2, a deliberately slow work factor) and OAuth client
# secrets (a keyed HMAC), kept for the tests that check a stored hash.
PRODUCTION_PASSWORD_HASHERS = list(django_settings.PASSWORD_HASHERS)


@pytest.fixture(autouse=True, scope="session")
def fast_password_hasher() -> Iterator[None]:
    """Test runs hash users' passwords with MD5 (PBKDF2's work factor would cost a second per user);
    OAuth client secrets keep the product's own keyed hash, which is fast. Tests only; the settings
    never list MD5."""
    hashers = ["django.contrib.auth.hashers.MD5PasswordHasher", "gateway.oauth.hashers.ClientSecretHasher"]
    with override_settings(PASSWORD_HASHERS=hashers):
        yield


@pytest.fixture
def production_password_hashers(settings: Any) -> None:
    """For a test about how secrets are stored: the product's own hashers."""
    settings.PASSWORD_HASHERS = PRODUCTION_PASSWORD_HASHERS


@pytest.fixture(scope="session")
def population() -> Population:
    return Population()


def _catalogue_and_habilitations_load() -> None:
    catalogue_load()
    demo_habilitations_load()


@pytest.fixture(scope="session")
def catalogue_snapshot(django_db_setup: None, django_db_blocker: DjangoDbBlocker) -> RowSnapshot:
    """The demo catalogue and the demo habilitations, with the audit events of their approval:
    loaded once per session through the services, then copied into each test that asks."""
    with django_db_blocker.unblock():
        return RowSnapshot.capture(_catalogue_and_habilitations_load)


@pytest.fixture
def catalogue(db: None, catalogue_snapshot: RowSnapshot) -> None:
    catalogue_snapshot.restore()


@pytest.fixture
def mairie(catalogue: None) -> Organisation:
    return Organisation.objects.get(code=DEMO_CONSUMER)


@pytest.fixture
def cd_rhone(catalogue: None) -> Organisation:
    return Organisation.objects.get(code=DEMO_CONSUMER_WITHOUT_HABILITATION)


@pytest.fixture
def supervisor(catalogue: None) -> Organisation:
    """The gateway's operator, the one kind of organisation whose agents may be auditors."""
    return demo_supervisor_load()


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


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpServer]:
    """One real SMTP server per test process (aiosmtpd), for the tests' emails and the worker's."""
    server = SmtpServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def mailbox(smtp_server: SmtpServer, settings: Any) -> Iterator[Mailbox]:
    """The SMTP server's mailbox, emptied; emails sent in this process go there too."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = smtp_server.host, smtp_server.port
    smtp_server.mailbox.clear()
    yield smtp_server.mailbox
    smtp_server.mailbox.clear()


class Smtp:
    """The SMTP server as the citizens' tests read it: its address and what it received."""

    def __init__(self, server: SmtpServer) -> None:
        self.host, self.port, self._mailbox = server.host, server.port, server.mailbox

    @property
    def messages(self) -> list[EmailMessage]:
        return self._mailbox.messages

    def wait_for(self, count: int) -> list[EmailMessage]:
        return self._mailbox.wait_for(count)


@pytest.fixture
def smtp(mailbox: Mailbox, smtp_server: SmtpServer) -> Smtp:
    """The SMTP server, emptied, and Django's e-mail (here and in the Celery worker) pointed at it."""
    return Smtp(smtp_server)


@pytest.fixture(scope="session")
def celery_worker_process(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory, smtp_server: SmtpServer
) -> Iterator[CeleryWorker]:
    """One real Celery worker per test process, started by the first test that needs it: on this
    process's test database, consuming this process's own queue (tests/isolation.py)."""
    # After django_db_setup the connection names the test database (one per xdist worker).
    database_url = urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + connection.settings_dict["NAME"]).geturl()
    worker = CeleryWorker(
        queue=django_settings.CELERY_TASK_DEFAULT_QUEUE,
        # The tests' receivers and sandbox provider listen on 127.0.0.1.
        env={
            **os.environ,
            "DATABASE_URL": database_url,
            "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1",
            # Its emails go to the tests' SMTP server.
            "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "EMAIL_HOST": smtp_server.host,
            "EMAIL_PORT": str(smtp_server.port),
        },
        cwd=django_settings.BASE_DIR,
        log=tmp_path_factory.mktemp("celery") / "worker.log",
    )
    yield worker
    worker.stop()
    # The queue lives on in Redis once declared: remove it with whatever the run left in it
    # (declared again first, so that this connection knows its bindings).
    with celery_app.connection_for_write() as broker:
        queue = celery_app.amqp.queues[worker.queue].bind(broker.default_channel)
        queue.declare()
        queue.delete()


@pytest.fixture
def celery_worker(celery_worker_process: CeleryWorker, transactional_db: None) -> Iterator[CeleryWorker]:
    """The real worker, for a test about tasks: they go through Redis instead of running
    in-process, and the test's rows are committed (transactional_db) so that the worker sees them.
    Whatever the test left in the queue is dropped after it."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    yield celery_worker_process
    celery_app.conf.task_always_eager = eager
    celery_app.control.purge()
