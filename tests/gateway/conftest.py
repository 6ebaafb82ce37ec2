"""Fixtures of the gateway suites: OAuth clients with their secrets, real tokens from /oauth/token/,
consents made through the consent services, and a citizen logged in through the citizen login."""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from django.test import Client
from oauth2_provider.models import Application

from audit.models import ActorKind
from audit.services import Actor
from consent.auth import SESSION_CITIZEN, SESSION_LEVEL
from consent.models import Citizen, Consent
from consent.services.lifecycle import consent_approve
from consent.services.requests import consent_request_create
from gateway.celery import app as celery_app
from gateway.services.clients import NewClient, client_create
from providers.models import AttestationType, Habilitation, Organisation

QF = "cnaf.quotient-familial"
AVIS = "dgfip.avis-imposition"
REDIRECT_URI = "https://client.example.fr/callback"


@pytest.fixture(autouse=True)
def celery_eager() -> Iterator[None]:
    """Tasks run in-process unless a test starts a real worker (tests/gateway/test_async_exchange.py)."""
    before = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.update(task_always_eager=True, task_eager_propagates=True)
    yield
    celery_app.conf.update(task_always_eager=before[0], task_eager_propagates=before[1])


def basic_auth(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@dataclass
class Consumer:
    """A consumer organisation's OAuth client, with the secret create_client printed once."""

    organisation: Organisation
    application: Application
    secret: str

    @property
    def client_id(self) -> str:
        return self.application.client_id

    @property
    def basic(self) -> str:
        return basic_auth(self.client_id, self.secret)

    def token_response(self, client: Client, scope: str) -> Any:
        return client.post(
            "/oauth/token/",
            {"grant_type": "client_credentials", "scope": scope},
            HTTP_AUTHORIZATION=self.basic,
        )

    def token(self, client: Client, scope: str) -> str:
        response = self.token_response(client, scope)
        assert response.status_code == 200, response.content
        return str(response.json()["access_token"])


def as_consumer(new_client: NewClient) -> Consumer:
    return Consumer(new_client.api_client.organisation, new_client.application, new_client.client_secret)


@pytest.fixture
def make_consumer(db: None) -> Callable[..., Consumer]:
    def make(organisation: Organisation, **kwargs: Any) -> Consumer:
        return as_consumer(client_create(organisation=organisation, name=f"{organisation.code} test client", **kwargs))

    return make


@pytest.fixture
def mairie_client(mairie: Organisation, make_consumer: Callable[..., Consumer]) -> Consumer:
    return make_consumer(mairie)


@pytest.fixture
def mairie_web_client(mairie: Organisation, make_consumer: Callable[..., Consumer]) -> Consumer:
    return make_consumer(mairie, grant=Application.GRANT_AUTHORIZATION_CODE, redirect_uris=[REDIRECT_URI])


def bearer(token: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


@pytest.fixture
def make_consent(db: None) -> Callable[..., Consent]:
    """An active consent given by `citizen` to `consumer`, through the consent services."""

    def make(
        citizen: Citizen,
        consumer: Organisation,
        slug: str = QF,
        *,
        max_uses: int | None = None,
        eidas_level: str = "eidas2",
        fields: list[str] | None = None,
    ) -> Consent:
        habilitation = Habilitation.objects.get(
            consumer=consumer, attestation_type__slug=slug, status=Habilitation.Status.APPROVED
        )
        consent = consent_request_create(
            consumer=consumer,
            client=None,
            attestation_types=[slug],
            fields={slug: fields} if fields else None,
            purpose_code=habilitation.purpose_code,
            purpose_text="Test",
            duration_days=30,
            max_uses=max_uses,
        )
        return consent_approve(consent=consent, citizen=citizen, eidas_level=eidas_level)

    return make


def citizen_actor(citizen: Citizen) -> Actor:
    return Actor(ActorKind.CITIZEN, citizen.ref)


def login_citizen(client: Client, citizen: Citizen, level: str = "eidas2") -> None:
    """What the citizen login leaves in the session (consent.auth.login_citizen)."""
    session = client.session
    session[SESSION_CITIZEN] = str(citizen.pk)
    session[SESSION_LEVEL] = level
    session.save()


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def habilitation_grant(consumer: Organisation, slug: str) -> Habilitation:
    """An approved habilitation for `consumer` (cd_rhone has none in the demo data)."""
    attestation_type = AttestationType.objects.get(slug=slug)
    return Habilitation.objects.create(
        consumer=consumer,
        attestation_type=attestation_type,
        fields=[f.name for f in attestation_type.fields.all()],
        purpose_code=attestation_type.purposes[0]["code"],
        purpose_text="Test",
        legal_basis="Test",
        retention_days=30,
        dpo_email=consumer.dpo_email,
        status=Habilitation.Status.APPROVED,
    )
