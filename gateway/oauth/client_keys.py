"""The public keys a client registered: inline, or at its `jwks_uri`.

A `jwks_uri` is fetched through `core.outbound` (timeout, size cap, no private addresses) and kept
in the cache for OAUTH_CLIENT_JWKS_CACHE_SECONDS. An assertion signed with a `kid` the cached set
does not hold triggers one fetch at once (the client rotated its keys), at most once per
OAUTH_CLIENT_JWKS_REFRESH_MIN_SECONDS per client, so made-up kids cannot turn the gateway into a
stream of requests to the client.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.conf import settings
from django.core.cache import cache
from joserfc.jwk import Key, KeySet

from core import outbound
from core.jose import JoseRefused, key_set_import
from providers.models import ApiClient

MAX_JWKS_BYTES = 64 * 1024


def _cache_key(api_client: ApiClient, suffix: str) -> str:
    uri = hashlib.sha256(api_client.jwks_uri.encode()).hexdigest()[:16]
    return f"client-jwks:{api_client.pk}:{uri}:{suffix}"


def _fetch(api_client: ApiClient) -> dict[str, Any]:
    try:
        response = outbound.request(
            "GET",
            api_client.jwks_uri,
            timeout=settings.OAUTH_CLIENT_JWKS_TIMEOUT_SECONDS,
            headers={"Accept": "application/json"},
            max_bytes=MAX_JWKS_BYTES,
        )
    except outbound.OutboundError:
        raise JoseRefused("jwks_uri_unreachable") from None
    data = response.json_or_none() if response.status == 200 else None
    if not isinstance(data, dict):
        raise JoseRefused("jwks_uri_unusable")
    key_set_import(data)
    cache.set(_cache_key(api_client, "set"), data, settings.OAUTH_CLIENT_JWKS_CACHE_SECONDS)
    return data


def client_key_set_data(api_client: ApiClient, *, refresh: bool = False) -> dict[str, Any]:
    """The client's JWK set as registered or as last fetched; JoseRefused when it has none."""
    if api_client.jwks:
        return dict(api_client.jwks)
    if not api_client.jwks_uri:
        raise JoseRefused("no_jwks_registered")
    data = None if refresh else cache.get(_cache_key(api_client, "set"))
    if data is None:
        data = _fetch(api_client)
    return dict(data)


def client_signing_key(api_client: ApiClient, header: dict[str, Any]) -> Key:
    """The key that should have signed a JWT with this header: the one of its `kid`, else the only
    signing key. Fetches the jwks_uri again once for an unknown kid."""
    keys = key_set_import(client_key_set_data(api_client))
    kid = header.get("kid")
    if kid is None:
        signing = [key for key in keys.keys if key.get("use") in (None, "sig")]
        if len(signing) != 1:
            raise JoseRefused("kid_missing")
        return signing[0]
    if not isinstance(kid, str):
        raise JoseRefused("unknown_kid")
    found = _by_kid(keys, kid)
    if (
        found is None
        and api_client.jwks_uri
        and cache.add(_cache_key(api_client, "refreshed"), 1, settings.OAUTH_CLIENT_JWKS_REFRESH_MIN_SECONDS)
    ):
        found = _by_kid(key_set_import(client_key_set_data(api_client, refresh=True)), kid)
    if found is None:
        raise JoseRefused("unknown_kid")
    return found


def _by_kid(keys: KeySet, kid: str) -> Key | None:
    for key in keys.keys:
        if key.kid == kid and key.get("use") in (None, "sig"):
            return key
    return None


def client_encryption_key(api_client: ApiClient) -> Key | None:
    """The client's `use: enc` key, if it registered one."""
    try:
        keys = key_set_import(client_key_set_data(api_client))
    except JoseRefused:
        return None
    for key in keys.keys:
        if key.get("use") == "enc":
            return key
    return None
