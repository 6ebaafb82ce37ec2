"""`private_key_jwt` client authentication (RFC 7523 §2.2 and §3, OpenID Connect Core §9), as
FAPI 2.0 Security Profile §5.3.2.1 asks of it.

The client sends `client_assertion_type` (the JWT bearer type) and `client_assertion`: a JWT it
signed with a key of its registered JWKS (`gateway.oauth.client_keys`), with `iss` = `sub` = its
client id, `aud` = the gateway's issuer identifier (and nothing else), `exp` at most
OAUTH_CLIENT_ASSERTION_MAX_LIFETIME_SECONDS ahead, and a `jti` used once (`core.replay`, until
`exp`). The client must be registered for this method, and must not send another one beside it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from oauth2_provider.models import Application

from core.jose import CLIENT_ALGORITHMS, JoseRefused, jwt_verify, unverified_jwt
from core.replay import ReplayCacheUnavailable, first_use
from gateway.oauth.backends import ISSUER_KEY
from gateway.oauth.client_keys import client_signing_key
from gateway.oauth.scopes import api_client_for
from providers.models import ApiClient

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
MAX_ASSERTION_LENGTH = 8000
MAX_JTI_LENGTH = 200
# FAPI 2.0 Security Profile §5.3.2.1: an `iat` or `nbf` up to 10 s ahead is accepted (clocks differ).
CLOCK_SKEW_SECONDS = 10


class AssertionRefused(Exception):
    def __init__(self, reason: str, client_id: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.client_id = client_id


def issuer_identifier(request: Any) -> str:
    """The issuer of the RFC 8414 metadata, as the endpoint's request carries it
    (`gateway.oauth.backends`)."""
    return str(request.headers[ISSUER_KEY])


def _body_values(request: Any, name: str) -> list[str]:
    return [value for key, value in (request.decoded_body or []) if key == name]


def client_assertion_presented(request: Any) -> bool:
    return bool(_body_values(request, "client_assertion") or _body_values(request, "client_assertion_type"))


def client_assertion_check(request: Any, *, load: Callable[[str], Application | None]) -> str:
    """The client id the request's client assertion authenticates; AssertionRefused (with a
    reason for the trail) otherwise. `load` returns the client the gateway serves, or None."""
    types, assertions = _body_values(request, "client_assertion_type"), _body_values(request, "client_assertion")
    if len(types) != 1 or len(assertions) != 1:
        raise AssertionRefused("assertion_parameters")
    if types[0] != JWT_BEARER:
        raise AssertionRefused("assertion_type_unsupported")
    assertion = assertions[0]
    if not assertion or len(assertion) > MAX_ASSERTION_LENGTH:
        raise AssertionRefused("assertion_malformed")
    if request.headers.get("Authorization") or _body_values(request, "client_secret"):
        # RFC 6749 §2.3: one authentication method per request.
        raise AssertionRefused("several_auth_methods")
    try:
        header, unverified = unverified_jwt(assertion)
    except JoseRefused as refused:
        raise AssertionRefused(refused.reason) from None
    client_id = unverified.get("sub")
    if not isinstance(client_id, str) or not client_id:
        raise AssertionRefused("sub_missing")
    named = _body_values(request, "client_id")
    if named and named != [client_id]:
        raise AssertionRefused("client_id_mismatch")
    client = load(client_id)
    api_client = api_client_for(client)
    if client is None or api_client is None:
        raise AssertionRefused("unknown_client")
    if api_client.token_endpoint_auth_method != ApiClient.AuthMethod.PRIVATE_KEY_JWT:
        raise AssertionRefused("auth_method_not_registered", client_id)
    if header.get("alg") not in CLIENT_ALGORITHMS:
        raise AssertionRefused("algorithm_not_allowed", client_id)
    try:
        _, claims = jwt_verify(assertion, client_signing_key(api_client, header))
    except JoseRefused as refused:
        raise AssertionRefused(refused.reason, client_id) from None
    _claims_check(claims, client_id=client_id, issuer=issuer_identifier(request))
    return client_id


def _claims_check(claims: dict[str, Any], *, client_id: str, issuer: str) -> None:
    now = time.time()

    def refuse(reason: str) -> AssertionRefused:
        return AssertionRefused(reason, client_id)

    if claims.get("iss") != client_id or claims.get("sub") != client_id:
        raise refuse("iss_sub_mismatch")
    audience = claims.get("aud")
    # FAPI 2.0 §5.3.2.1: the issuer identifier as the sole audience (not the token endpoint).
    if audience != issuer and audience != [issuer]:
        raise refuse("audience_mismatch")
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or isinstance(exp, bool):
        raise refuse("exp_missing")
    if exp <= now:
        raise refuse("expired")
    if exp > now + settings.OAUTH_CLIENT_ASSERTION_MAX_LIFETIME_SECONDS + CLOCK_SKEW_SECONDS:
        raise refuse("exp_too_far")
    for name in ("iat", "nbf"):
        if name in claims and (not _is_number(claims[name]) or claims[name] > now + CLOCK_SKEW_SECONDS):
            raise refuse(f"{name}_future")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise refuse("jti_missing")
    try:
        fresh = first_use(namespace=f"client-assertion:{client_id}", value=jti, ttl=int(exp - now) + 1)
    except ReplayCacheUnavailable:
        raise refuse("replay_cache_unavailable") from None
    if not fresh:
        raise refuse("jti_replayed")


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
