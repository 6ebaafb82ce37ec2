"""The test OpenID providers publish what FranceConnect and ProConnect clients rely on."""

from __future__ import annotations

import pytest
import requests

from tests.oidc.fixtures import OidcServers


def metadata(oidc_servers: OidcServers, name: str) -> dict[str, object]:
    response = requests.get(oidc_servers.issuers[name] + "/.well-known/openid-configuration", timeout=5)
    assert response.status_code == 200
    return dict(response.json())


@pytest.mark.parametrize(
    ("name", "levels"), [("franceconnect", ["eidas1"]), ("franceconnect_plus", ["eidas2", "eidas3"])]
)
def test_the_citizen_providers_speak_franceconnect(oidc_servers: OidcServers, name: str, levels: list[str]) -> None:
    published = metadata(oidc_servers, name)

    assert published["issuer"] == oidc_servers.issuers[name]
    assert published["acr_values_supported"] == levels
    assert {"openid", "identite_pivot", "email"} <= set(published["scopes_supported"])  # type: ignore[arg-type]
    assert {"given_name", "family_name", "birthdate", "gender", "birthplace", "birthcountry"} <= set(
        published["claims_supported"]  # type: ignore[arg-type]
    )
    assert "pairwise" in published["subject_types_supported"]  # type: ignore[operator]
    assert "ES256" in published["userinfo_signing_alg_values_supported"]  # type: ignore[operator]
    assert published["code_challenge_methods_supported"] == ["S256"]
    assert published["end_session_endpoint"]


def test_the_agent_provider_speaks_proconnect(oidc_servers: OidcServers) -> None:
    published = metadata(oidc_servers, "proconnect")

    assert {"openid", "email", "given_name", "usual_name", "siret", "uid"} <= set(
        published["scopes_supported"]  # type: ignore[arg-type]
    )
