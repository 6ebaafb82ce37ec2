"""The providers' rules, each stated once as a pure function over plain values.

Every path that needs one calls it: the exchange's `authorise`, the scope ceiling, consent
requests and approvals, the pages. Selectors read the facts; these decide.
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from core.jose import JoseRefused, encryption_key_usable, key_set_import
from providers.models import AgentRole, ApiClient, EidasLevel, Habilitation, Organisation, url_origin

# Who asks for and decides on habilitations, in their own organisation.
HABILITATION_ROLES = frozenset({AgentRole.Role.ADMINISTRATOR, AgentRole.Role.HABILITATION_MANAGER})

# The auditor role reads every organisation's exchanges and answers citizens' objections about
# them: it belongs to the gateway's operator or a body supervising it, never to an organisation
# that exchanges data through the gateway (it would audit itself and its peers).
AUDITOR_KINDS = frozenset({Organisation.Kind.SUPERVISORY_BODY})


# The API's scope for the whole trail: like the auditor role, a supervisory body's only.
AUDIT_SCOPE = "audit:read"


def client_scopes_allowed(*, scopes: Iterable[str], organisation_kind: str) -> frozenset[str]:
    """The scopes an organisation's OAuth client may hold of those it is registered for: `audit:read`
    only in an organisation that may hold the auditor role (an operator registering it elsewhere
    gives nothing)."""
    return frozenset(scope for scope in scopes if scope != AUDIT_SCOPE or organisation_kind in AUDITOR_KINDS)


def role_allowed(*, role: str, organisation_kind: str) -> bool:
    """Whether an agent of an organisation of `organisation_kind` may hold `role` at all."""
    if role == AgentRole.Role.AUDITOR:
        return organisation_kind in AUDITOR_KINDS
    return role in AgentRole.Role.values


def roles_allowed(*, organisation_kind: str) -> list[str]:
    """The roles an organisation of this kind gives its agents, in the roles' order."""
    return [role for role in AgentRole.Role.values if role_allowed(role=role, organisation_kind=organisation_kind)]


def habilitation_in_force(*, status: str, valid_until: dt.date | None, type_active: bool, today: dt.date) -> bool:
    """A habilitation lets its consumer fetch an attestation type while it is approved, not past
    its last day, and the type is still offered. (The consumer itself must be active: callers of
    inactive organisations are refused before any rule runs.)"""
    return (
        status == Habilitation.Status.APPROVED and (valid_until is None or today <= valid_until) and bool(type_active)
    )


def eidas_satisfies(level: str, minimum: str) -> bool:
    """A login at `level` is enough for something that needs `minimum` (eidas1 < eidas2 < eidas3)."""
    return EidasLevel.rank(level) >= EidasLevel.rank(minimum) > 0


def eidas_highest(levels: list[str]) -> str:
    """The strictest of several minimum levels (a consent over several types needs them all)."""
    return max(levels, key=EidasLevel.rank)


def return_url_allowed(*, url: str, origins: list[str]) -> bool:
    """A consent request may send the citizen back to `url` only on an origin its consumer
    registered (Organisation.return_url_origins): same scheme, host and port."""
    origin = url_origin(url)
    return origin is not None and origin in {url_origin(registered) for registered in origins}


def client_keys_problems(
    *, auth_method: str, jwks: object, jwks_uri: str, require_encrypted_attestations: bool, demo_mode: bool
) -> dict[str, str]:
    """What is wrong with an API client's FAPI settings, by field (empty when nothing is)."""
    problems: dict[str, str] = {}
    if auth_method not in ApiClient.AuthMethod.values:
        problems["token_endpoint_auth_method"] = "One of: " + ", ".join(ApiClient.AuthMethod.values)
    if jwks and jwks_uri:
        problems["jwks"] = "Register the keys inline or by jwks_uri, not both."
    key_set = None
    if jwks:
        try:
            key_set = key_set_import(jwks)
        except JoseRefused as refused:
            problems["jwks"] = {
                "jwks_not_public": "A JWKS here holds public keys only (no private or symmetric key).",
            }.get(refused.reason, "Not a JWK set (RFC 7517).")
    if jwks_uri:
        parts = urlsplit(jwks_uri)
        loopback = parts.hostname in ("127.0.0.1", "localhost", "::1")
        if not parts.hostname or not (parts.scheme == "https" or (demo_mode and parts.scheme == "http" and loopback)):
            problems["jwks_uri"] = "A jwks_uri is an https URL."
    if auth_method == ApiClient.AuthMethod.PRIVATE_KEY_JWT and not (jwks or jwks_uri):
        problems.setdefault("jwks", "private_key_jwt needs the client's public keys (jwks or jwks_uri).")
    if key_set is not None:
        uses = [key.get("use") for key in key_set.keys]
        if auth_method == ApiClient.AuthMethod.PRIVATE_KEY_JWT and not any(use in (None, "sig") for use in uses):
            problems["jwks"] = "private_key_jwt needs a signing key (use sig) in the JWKS."
        if require_encrypted_attestations and "enc" not in uses:
            problems["require_encrypted_attestations"] = "Encrypted attestations need a key with use enc."
        if any(key.key_type == "RSA" and _rsa_bits(key.as_dict(private=False)) < 2048 for key in key_set.keys):
            problems["jwks"] = "An RSA key has 2048 bits at least (FAPI 2.0 Security Profile §5.4.1)."
        if any(key.get("use") == "enc" and not encryption_key_usable(key) for key in key_set.keys):
            problems["jwks"] = "An encryption key (use enc) is an EC P-256/384/521 or X25519/X448 key (ECDH-ES)."
    elif require_encrypted_attestations and not jwks_uri:
        problems["require_encrypted_attestations"] = "Encrypted attestations need a key with use enc."
    return problems


def _rsa_bits(jwk: dict[str, Any]) -> int:
    modulus = str(jwk.get("n", ""))
    return len(base64.urlsafe_b64decode(modulus + "=" * (-len(modulus) % 4)).lstrip(b"\0")) * 8
