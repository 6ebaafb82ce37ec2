"""Attestations encrypted to the consumer: a client with a `use: enc` key receives the signed
attestation only inside a JWE (ECDH-ES+A256KW, A256GCM) made to that key; a client set to require
it and without a usable key gets nothing and spends nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from joserfc import jwe, jws
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey

from consent.models import Citizen, Consent
from core.errors import ValidationError
from core.jose import jwks
from gateway.models import Exchange
from gateway.services.clients import client_create
from providers.models import Organisation
from tests.gateway.conftest import QF, Consumer, bearer

URL = f"/api/v1/attestations/{QF}"


def fetch(client: Client, consumer: Consumer, consent: Consent) -> Any:
    token = consumer.token(client, f"attestations:{QF}")
    return client.get(f"{URL}?consent={consent.pk}", **bearer(token))


@pytest.mark.parametrize("key_of", [lambda: ECKey.generate_key("P-256"), lambda: OKPKey.generate_key("X25519")])
def test_a_client_with_an_encryption_key_gets_the_jws_inside_a_jwe_only_it_can_open(
    client: Client,
    mairie: Organisation,
    alice: Citizen,
    make_consumer: Callable[..., Consumer],
    make_consent: Callable[..., Consent],
    key_of: Callable[[], Any],
):
    private = key_of()
    public = {**private.as_dict(private=False), "use": "enc", "kid": "enc-1"}
    consumer = make_consumer(mairie, jwks={"keys": [public]})
    consent = make_consent(alice, mairie)

    response = fetch(client, consumer, consent)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"exchange_id", "jwe"}
    opened = jwe.decrypt_compact(body["jwe"], private, algorithms=["ECDH-ES+A256KW", "A256GCM"])
    assert opened.protected["alg"] == "ECDH-ES+A256KW"
    assert opened.protected["enc"] == "A256GCM"
    assert opened.protected["kid"] == "enc-1"
    assert opened.protected["cty"] == "attestation+jws"
    signed = jws.deserialize_compact(opened.plaintext, KeySet.import_key_set(jwks()), algorithms=["EdDSA"])
    attestation = json.loads(signed.payload)
    assert attestation["type"] == QF
    assert attestation["consent"] == str(consent.pk)
    assert Exchange.objects.get().status == Exchange.Status.SUCCEEDED


def test_another_key_cannot_open_it(
    client: Client,
    mairie: Organisation,
    alice: Citizen,
    make_consumer: Callable[..., Consumer],
    make_consent: Callable[..., Consent],
):
    private = ECKey.generate_key("P-256")
    consumer = make_consumer(mairie, jwks={"keys": [{**private.as_dict(private=False), "use": "enc"}]})
    body = fetch(client, consumer, make_consent(alice, mairie)).json()

    with pytest.raises(Exception):  # noqa: B017 (joserfc raises its own decryption errors)
        jwe.decrypt_compact(body["jwe"], ECKey.generate_key("P-256"), algorithms=["ECDH-ES+A256KW", "A256GCM"])


def test_a_client_that_requires_encryption_without_a_usable_key_gets_nothing(
    client: Client,
    settings: Any,
    mairie: Organisation,
    alice: Citizen,
    make_consumer: Callable[..., Consumer],
    make_consent: Callable[..., Consent],
):
    settings.OUTBOUND_ALLOWED_HOSTS = []
    # Its keys are published on a private address the gateway does not call.
    consumer = make_consumer(mairie, jwks_uri="https://10.0.0.1/jwks.json", require_encrypted_attestations=True)
    consent = make_consent(alice, mairie, max_uses=1)

    response = fetch(client, consumer, consent)

    assert response.status_code == 409
    assert response.json()["code"] == "encryption_key_unavailable"
    assert not Exchange.objects.exists()
    consent.refresh_from_db()
    assert consent.uses == 0


def test_a_client_without_an_encryption_key_gets_the_attestation_in_clear(
    client: Client, mairie_client: Consumer, alice: Citizen, mairie: Organisation, make_consent: Callable[..., Consent]
):
    body = fetch(client, mairie_client, make_consent(alice, mairie)).json()
    assert set(body) == {"exchange_id", "attestation", "jws"}


def test_an_encryption_key_ecdh_es_cannot_use_is_refused_at_registration(mairie: Organisation):
    rsa = {**RSAKey.generate_key(2048).as_dict(private=False), "use": "enc"}
    with pytest.raises(ValidationError) as caught:
        client_create(organisation=mairie, name="RSA enc", jwks={"keys": [rsa]})
    assert "jwks" in caught.value.extra["errors"]
