"""Real OpenID providers for the tests: oidc-provider (npm, OpenID certified) run by Node.js as
FranceConnect, FranceConnect+ and ProConnect look-alikes (tests/oidc/providers.js).

`oidc_servers` (session) installs the package (`npm ci` into tests/oidc/node_modules, once, under a
lock so that parallel workers share it) and starts the providers on free ports; `oidc` (per test)
configures the gateway to use them and clears any injected fault before and after. The providers'
users are people of the demo population, so the demo adapter finds their records.

`OidcServers.authorize` plays the browser for tests without one: it follows the authorization
request through the provider's own login and consent forms and returns the callback URL with the
code, for the test to hand to the gateway.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from joserfc.jwk import ECKey

from providers.demodata.population import Population, demo_citizens
from tests.processes import npm_ci

HERE = Path(__file__).resolve().parent
# The gateway as the providers know it: the Django test client is `localhost` (SERVER_NAME), the
# live server too; the providers accept any port of it (providers.js).
RP = "http://localhost"
SECRET = "test-client-secret-0123456789abcdefghijklmnopqrstuvwxyz"
MAIRIE_SIRET = "21690266800013"
CNAF_SIRET = "18003502400017"
SUPERVISOR_SIRET = "13002526500013"
# Valid check digit, registered nowhere.
UNKNOWN_SIRET = "73282932000074"
# A consumer organisation an operator registers during a test (the portal's journey).
NEW_CONSUMER_SIRET = "21381005000004"
# Each demo citizen's strongest means of identification: the 17-year-old has only a low one.
MAX_ACR = {0: "eidas3", 1: "eidas3", 2: "eidas2", 3: "eidas1"}
AGENTS = {
    "agent-mairie": {"siret": MAIRIE_SIRET, "given_name": "Camille", "usual_name": "Roux"},
    "inspectrice": {"siret": CNAF_SIRET, "given_name": "Inès", "usual_name": "Lambert"},
    # An agent of the gateway's operator (providers.demo.DEMO_SUPERVISOR_SIRET): auditors are its.
    "auditrice": {"siret": SUPERVISOR_SIRET, "given_name": "Salomé", "usual_name": "Girard"},
    "agent-inconnu": {"siret": UNKNOWN_SIRET, "given_name": "Hugo", "usual_name": "Perrin"},
    "admin-nouvelle": {"siret": NEW_CONSUMER_SIRET, "given_name": "Adèle", "usual_name": "Morel"},
    "gestionnaire-nouvelle": {"siret": NEW_CONSUMER_SIRET, "given_name": "Gaspard", "usual_name": "Leroy"},
}


def citizen_claims(population: Population) -> list[dict[str, Any]]:
    """The demo citizens as FranceConnect describes people (identite_pivot and email)."""
    people = []
    for index, person in enumerate(demo_citizens(population)):
        born_abroad = person.code_cog_lieu_naissance.startswith("99")
        people.append(
            {
                "login": f"demo{index}",
                "given_name": " ".join(person.prenoms),
                "family_name": person.nom_naissance,
                "birthdate": person.date_naissance.isoformat(),
                "gender": "female" if person.sexe == "F" else "male",
                "birthplace": "" if born_abroad else person.code_cog_lieu_naissance,
                "birthcountry": person.code_cog_lieu_naissance if born_abroad else "99100",
                "email": f"demo{index}@exemple.fr",
                "max_acr": MAX_ACR[index],
            }
        )
    return people


def agent_claims() -> list[dict[str, Any]]:
    return [
        {
            "login": login,
            "email": f"{login}@administration.example.fr",
            "uid": f"uid-{login}",
            **claims,
        }
        for login, claims in AGENTS.items()
    ]


@dataclass
class OidcServers:
    issuers: dict[str, str]
    # FranceConnect+'s client authenticates with private_key_jwt: its key file.
    key_file: str
    process: subprocess.Popen[str] = field(repr=False)

    def provider_settings(self, *names: str) -> dict[str, dict[str, object]]:
        """settings.OIDC_PROVIDERS for these providers (all by default)."""
        every = {
            "franceconnect": {
                "issuer": self.issuers["franceconnect"],
                "client_id": "gateway-fc",
                "client_secret": SECRET,
                "scopes": "openid identite_pivot email",
                "acr_values": {"eidas1": "eidas1"},
            },
            "franceconnect_plus": {
                "issuer": self.issuers["franceconnect_plus"],
                "client_id": "gateway-fc-plus",
                "private_key_file": self.key_file,
                "scopes": "openid identite_pivot email",
                "acr_values": {"eidas2": "eidas2", "eidas3": "eidas3"},
            },
            "proconnect": {
                "issuer": self.issuers["proconnect"],
                "client_id": "gateway-pc",
                "client_secret": SECRET,
                "scopes": "openid email given_name usual_name siret uid",
                "acr_values": {},
            },
        }
        return {name: every[name] for name in (names or every)}

    def fault(self, provider: str, fault: str | None = None, *, delay_ms: int = 0) -> None:
        """Makes `provider` misbehave (providers.js), or behave again with no arguments."""
        body = json.dumps({"fault": fault, "delay_ms": delay_ms}).encode()
        request = urllib.request.Request(  # noqa: S310 - the loopback test provider
            f"{self.issuers[provider]}/_test/fault", data=body, method="PUT"
        )
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            assert response.status == 200

    def clear_faults(self) -> None:
        for name in self.issuers:
            self.fault(name)

    def authorize(self, url: str, login: str, *, session: requests.Session | None = None) -> str:
        """Logs `login` in at the provider (its own forms) and consents; returns the callback URL
        the provider redirects to, not followed."""
        return self.follow(url, session=session or requests.Session(), login=login)

    def follow(self, url: str, *, session: requests.Session, login: str = "") -> str:
        """Plays the browser at the provider from `url`: follows redirects and submits its forms
        (login, consent, logout confirmation) until it sends the browser back to the gateway;
        returns that URL, not followed."""
        for _ in range(12):
            response = session.get(url, allow_redirects=False, timeout=10)
            if not response.is_redirect:
                assert response.status_code == 200, response.text[:500]
                action, data = _form_action(response.text), _form_data(response.text, login)
                response = session.post(urljoin(url, action), data=data, allow_redirects=False)
                assert response.is_redirect, response.text[:500]
            url = urljoin(url, response.headers["Location"])
            if url.startswith(RP):
                return url
        raise AssertionError("the provider never sent the browser back to the gateway")


def _form_action(page: str) -> str:
    form = re.search(r"<form\b[^>]*>", page)
    assert form, page[:500]
    action = re.search(r'action="([^"]+)"', form.group(0))
    assert action, form.group(0)
    return html.unescape(action.group(1))


def _form_data(page: str, login: str) -> dict[str, str]:
    """What a person would submit: the hidden fields, the login (any password), and yes."""
    data = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(r'<input[^>]*type="hidden"[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page)
    }
    if 'name="login"' in page:
        data.update(login=login, password="any-password")
    if 'name="logout"' in page:
        data["logout"] = "yes"
    return data


def _key_pair(directory: Path) -> tuple[str, dict[str, Any]]:
    private = ec.generate_private_key(ec.SECP256R1())
    path = directory / "fc-plus-client.pem"
    pem = serialization.Encoding.PEM
    path.write_bytes(private.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    public = ECKey.import_key(
        private.public_key().public_bytes(pem, serialization.PublicFormat.SubjectPublicKeyInfo)
    ).as_dict()
    return str(path), {**public, "use": "sig", "alg": "ES256", "kid": "gateway-fc-plus-1"}


def _config(population: Population, public_jwk: dict[str, Any]) -> dict[str, Any]:
    citizen_uris = {
        "post_logout_redirect_uris": [f"{RP}/deconnexion/fin/"],
    }
    return {
        "providers": {
            "franceconnect": {
                "kind": "citizen",
                "acr_values": ["eidas1"],
                "id_token_alg": "ES256",
                "clients": [
                    {
                        "client_id": "gateway-fc",
                        "client_secret": SECRET,
                        "redirect_uris": [f"{RP}/connexion/franceconnect/retour/"],
                        **citizen_uris,
                    }
                ],
            },
            "franceconnect_plus": {
                "kind": "citizen",
                "acr_values": ["eidas2", "eidas3"],
                "id_token_alg": "RS256",
                "clients": [
                    {
                        "client_id": "gateway-fc-plus",
                        "jwks": {"keys": [public_jwk]},
                        "token_endpoint_auth_signing_alg": "ES256",
                        "redirect_uris": [f"{RP}/connexion/franceconnect_plus/retour/"],
                        **citizen_uris,
                    }
                ],
            },
            "proconnect": {
                "kind": "agent",
                # A JSON userinfo here, a signed one at the FranceConnects: the gateway takes both.
                "userinfo_alg": None,
                "clients": [
                    {
                        "client_id": "gateway-pc",
                        "client_secret": SECRET,
                        "redirect_uris": [f"{RP}/agents/connexion/retour/"],
                        "post_logout_redirect_uris": [f"{RP}/agents/deconnexion/fin/"],
                    }
                ],
            },
        },
        "citizens": citizen_claims(population),
        "agents": agent_claims(),
    }


@pytest.fixture(scope="session")
def oidc_servers(population: Population) -> Iterator[OidcServers]:
    npm_ci(HERE)
    directory = Path(tempfile.mkdtemp(prefix="gateway-oidc-"))
    key_file, public_jwk = _key_pair(directory)
    config_file = directory / "providers.json"
    config_file.write_text(json.dumps(_config(population, public_jwk)), encoding="utf-8")
    process = subprocess.Popen(
        [shutil.which("node") or "node", str(HERE / "providers.js"), str(config_file)],
        cwd=HERE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL if not os.environ.get("OIDC_TEST_LOG") else None,
        text=True,
    )
    assert process.stdout is not None
    # providers.js prints its issuers once every provider listens (or exits on failure).
    first_line = process.stdout.readline()
    if not first_line:
        process.wait(timeout=10)
        pytest.fail(f"the test OpenID providers did not start (exit {process.returncode}); set OIDC_TEST_LOG=1")
    servers = OidcServers(issuers=json.loads(first_line), key_file=key_file, process=process)
    yield servers
    process.terminate()
    process.wait(timeout=10)
    shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def oidc(oidc_servers: OidcServers, settings: Any) -> Iterator[OidcServers]:
    """The gateway configured with the three providers (reached on 127.0.0.1), faults cleared."""
    settings.OIDC_PROVIDERS = oidc_servers.provider_settings()
    settings.OUTBOUND_ALLOWED_HOSTS = [*settings.OUTBOUND_ALLOWED_HOSTS, "127.0.0.1"]
    oidc_servers.clear_faults()
    yield oidc_servers
    oidc_servers.clear_faults()


def callback_path(url: str) -> str:
    """The callback URL as the Django test client requests it (path and query)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"
