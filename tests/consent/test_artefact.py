from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from jwcrypto import jwk, jws

from consent.auth import SESSION_CITIZEN, SESSION_LEVEL
from consent.models import Citizen, Consent
from tests.consent.conftest import QF

pytestmark = pytest.mark.django_db


def verify(client: Client, token: str) -> dict[str, Any]:
    """With jwcrypto and the published JWKS only: the way a provider or an auditor would."""
    keys = jwk.JWKSet.from_json(client.get("/.well-known/jwks.json").content)
    signed = jws.JWS()
    signed.deserialize(token)
    kid = signed.jose_header["kid"]
    signed.verify(keys.get_key(kid), alg="EdDSA")
    return json.loads(signed.payload)


class TestArtefact:
    def test_it_verifies_against_the_jwks(self, client: Client, active: Consent, alice: Citizen, mairie: Any):
        payload = verify(client, active.artefact)
        assert payload["consent_id"] == str(active.pk)
        assert payload["consumer"] == {"siret": mairie.siret, "name": mairie.name}
        assert payload["citizen_ref"] == alice.ref
        assert payload["attestations"][0]["type"] == QF
        assert payload["attestations"][0]["fields"] == active.items.get().fields
        assert payload["purpose"]["code"] == "tarification-sociale"
        assert payload["legal_bases"][0]["reference"]
        assert payload["valid_until"] and payload["valid_from"] and payload["issued_at"]
        assert payload["iss"].startswith("http")
        header = json.loads(jws.base64url_decode(active.artefact.split(".")[0]))
        assert header["typ"] == "consent+jws"

    @pytest.mark.parametrize("part", [0, 1, 2])
    def test_it_fails_after_one_byte_is_changed(self, client: Client, active: Consent, part: int):
        parts = active.artefact.split(".")
        text = parts[part]
        # Flip one character in the middle (never the last: its low bits may be padding).
        middle = len(text) // 2
        parts[part] = text[:middle] + ("A" if text[middle] != "A" else "B") + text[middle + 1 :]
        with pytest.raises(Exception):  # noqa: B017 - jwcrypto raises several types; any refusal will do
            verify(client, ".".join(parts))


class TestReceipt:
    def test_the_citizen_downloads_a_receipt(self, client: Client, active: Consent, alice: Citizen, mairie: Any):
        session = client.session
        session[SESSION_CITIZEN], session[SESSION_LEVEL] = str(alice.pk), "eidas2"
        session.save()
        response = client.get(f"/mes-consentements/{active.pk}/recu.json")
        assert response.status_code == 200
        assert "attachment" in response["Content-Disposition"]
        receipt = response.json()
        assert receipt["schema_version"] and receipt["record_id"] == str(active.pk)
        assert receipt["controllers"][0]["siret"] == mairie.siret
        assert receipt["purposes"][0]["code"] == "tarification-sociale"
        assert receipt["pii_categories"][0]["attestation_type"] == QF
        assert receipt["legal_basis"]
        assert receipt["consent"]["status"] == "active"
        assert receipt["withdrawal"]["url"].endswith(f"/mes-consentements/{active.pk}/retirer/")
        assert verify(client, receipt["artefact"]["jws"])["consent_id"] == str(active.pk)
        assert alice.nom_naissance not in response.content.decode()

    def test_nobody_else_gets_it(self, client: Client, active: Consent, bob: Citizen):
        session = client.session
        session[SESSION_CITIZEN], session[SESSION_LEVEL] = str(bob.pk), "eidas3"
        session.save()
        assert client.get(f"/mes-consentements/{active.pk}/recu.json").status_code == 404
