"""The OpenAPI schema names the scopes a client can really be granted: the static ones and one
`attestations:<slug>` per offered type, and the attestation operation takes any one of those."""

from __future__ import annotations

import pytest
from django.test import Client

from providers.models import AttestationType

pytestmark = pytest.mark.django_db


def _schema(client: Client) -> dict:
    response = client.get("/api/v1/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})
    assert response.status_code == 200
    return response.json()


def test_every_offered_type_has_its_scope_and_no_template_is_left(client: Client, catalogue: None) -> None:
    AttestationType.objects.filter(slug="france-travail.statut-demandeur-emploi").update(active=False)
    schema = _schema(client)

    offered = sorted(AttestationType.objects.filter(active=True).values_list("slug", flat=True))
    flows = schema["components"]["securitySchemes"]["oauth2"]["flows"]
    for flow in ("clientCredentials", "authorizationCode"):
        scopes = flows[flow]["scopes"]
        assert sorted(scopes) == sorted(
            ["consents:read", "consents:write", "audit:read"] + [f"attestations:{s}" for s in offered]
        )
    attestation = schema["paths"]["/api/v1/attestations/{slug}"]["get"]["security"]
    assert attestation == [{"oauth2": [f"attestations:{slug}"]} for slug in offered]
    assert "{slug}" not in str(flows) and "attestations:france-travail.statut-demandeur-emploi" not in str(schema)
    assert schema["paths"]["/api/v1/consents"]["get"]["security"] == [{"oauth2": ["consents:read"]}]
