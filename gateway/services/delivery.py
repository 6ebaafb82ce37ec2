"""Attestations encrypted to their consumer: the signed attestation (the JWS) nested in a compact
JWE (ECDH-ES+A256KW, A256GCM) made to the client's `use: enc` key, as Singapore's Myinfo v5 and
FranceConnect's encrypted userinfo do, so the document is readable only by the consumer's back end
even where TLS ends before it. The clear `attestation` member is then left out: the JWS inside
carries it.

A client with such a key (inline, or at its jwks_uri) receives only this; a client set to require
it and with no usable key is refused before anything is fetched (`encryption_key_unavailable`).
"""

from __future__ import annotations

from typing import Any

from joserfc.jwk import Key

from core.authentication import Caller
from core.errors import EncryptionKeyUnavailable
from core.jose import JoseRefused, encrypt_to, encryption_key_usable
from gateway.oauth.client_keys import client_encryption_key
from gateway.services.exchanges import ATTESTATION_JWS_TYPE
from providers.models import ApiClient


def attestation_encryption_key(caller: Caller) -> Key | None:
    """The key the caller's attestations are encrypted to, None when they go in clear."""
    if not caller.attestation_encryption:
        return None
    api_client = ApiClient.objects.filter(application__client_id=caller.client_id).first()
    key = None
    if api_client is not None:
        try:
            key = client_encryption_key(api_client)
        except JoseRefused:
            key = None
    if key is None or not encryption_key_usable(key):
        if caller.attestation_encryption == "required":
            raise EncryptionKeyUnavailable()
        return None
    return key


def attestation_delivered(body: dict[str, Any], key: Key | None) -> dict[str, Any]:
    """The response body as the caller receives it: unchanged, or with the JWS encrypted to `key`
    in place of the attestation and its JWS."""
    if key is None or "jws" not in body:
        return body
    delivered = {name: value for name, value in body.items() if name not in ("attestation", "jws")}
    delivered["jwe"] = encrypt_to(str(body["jws"]), key, content_type=ATTESTATION_JWS_TYPE)
    return delivered
