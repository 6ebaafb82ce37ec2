"""JWS signing and the published key set, through joserfc.

Attestations and consent artefacts are compact JWS (RFC 7515) with EdDSA (RFC 8037) over Ed25519
keys; each key's `kid` is its RFC 7638 thumbprint, so it cannot drift from the key. The v1 contract
names the algorithm `EdDSA`: RFC 9864's fully specified `Ed25519` is the same signature, and moving
to it is a change for consumers, announced before it is made.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

from cryptography.hazmat.primitives import serialization
from joserfc import jwe, jws, jwt
from joserfc.errors import BadSignatureError, InvalidKeyIdError, JoseError, UnsupportedAlgorithmError
from joserfc.jwk import JWKRegistry, Key, KeySet, OKPKey
from joserfc.util import to_bytes

from core.keys import jws_key_files, load_or_create_ed25519

ALGORITHM = "EdDSA"
_REGISTRY = jws.JWSRegistry(algorithms=[ALGORITHM])
# joserfc warns on every use of "EdDSA" (RFC 9864); the contract keeps it, see above.
warnings.filterwarnings("ignore", message="EdDSA is deprecated", module="joserfc")


@dataclass(frozen=True)
class JwsKey:
    kid: str
    key: OKPKey

    def public_jwk(self) -> dict[str, Any]:
        return {**self.key.as_dict(private=False), "kid": self.kid, "use": "sig", "alg": ALGORITHM}


@cache
def jws_keys() -> tuple[JwsKey, ...]:
    keys = []
    for path in jws_key_files():
        pem = load_or_create_ed25519(path).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        key = OKPKey.import_key(pem)
        keys.append(JwsKey(kid=key.thumbprint(), key=key))
    return tuple(keys)


def jwks() -> dict[str, Any]:
    """The public JWK set (RFC 7517), current key first."""
    return {"keys": [key.public_jwk() for key in jws_keys()]}


def canonical_payload(payload: dict[str, Any]) -> bytes:
    """The exact bytes signed (and hashed) for a JSON object: sorted keys, no whitespace, UTF-8."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def sign_jws(payload: dict[str, Any], *, typ: str) -> str:
    """Compact JWS over `payload`'s canonical bytes with the current key, its kid in the header."""
    key = jws_keys()[0]
    header = {"alg": ALGORITHM, "kid": key.kid, "typ": typ}
    return jws.serialize_compact(header, to_bytes(canonical_payload(payload)), key.key, registry=_REGISTRY)


# --- Keys and JWTs of OAuth clients (private_key_jwt, DPoP) --------------------------------------

# What a client may sign with (FAPI 2.0 Security Profile §5.4.1: PS256, ES256 or EdDSA only).
CLIENT_ALGORITHMS = ("EdDSA", "ES256", "PS256")
_CLIENT_REGISTRY = jws.JWSRegistry(algorithms=list(CLIENT_ALGORITHMS))
# A DPoP proof carries its public key in the header: an RSA key (PS256) alone passes joserfc's
# default 512-byte header limit.
_CLIENT_REGISTRY.max_header_length = 2048


class JoseRefused(Exception):
    """A key, key set or JWT that does not pass; `reason` is short, stable and carries no input."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def key_set_import(data: Any) -> KeySet:
    """A client's registered public JWK set; JoseRefused when it is not one, or holds a private key."""
    if not isinstance(data, dict) or not isinstance(data.get("keys"), list) or not data["keys"]:
        raise JoseRefused("jwks_malformed")
    if any(not isinstance(key, dict) or "d" in key or key.get("kty") == "oct" for key in data["keys"]):
        # A private or symmetric key has no place in a client's registration.
        raise JoseRefused("jwks_not_public")
    try:
        return KeySet.import_key_set(data)  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError):
        raise JoseRefused("jwks_malformed") from None


def public_key_import(data: Any) -> Key:
    """The public JWK a DPoP proof carries in its header (RFC 9449 §4.2: never a private key)."""
    if not isinstance(data, dict) or "d" in data or data.get("kty") not in ("EC", "OKP", "RSA"):
        raise JoseRefused("jwk_not_public")
    try:
        return JWKRegistry.import_key(data)
    except (JoseError, ValueError, TypeError):
        raise JoseRefused("jwk_malformed") from None


def unverified_jwt(value: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWS, not yet verified: only to find the key to verify it."""
    try:
        obj = jws.extract_compact(to_bytes(value), registry=_CLIENT_REGISTRY)
        claims = json.loads(obj.payload)
    except (JoseError, ValueError, TypeError):
        raise JoseRefused("jwt_malformed") from None
    if not isinstance(claims, dict):
        raise JoseRefused("jwt_malformed")
    return dict(obj.headers()), claims


def jwt_verify(value: str, key: Key | KeySet) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and claims of a compact JWS signed by `key` (or the key of its `kid` in a key set)
    with one of CLIENT_ALGORITHMS. The claims' meaning is the caller's to check."""
    try:
        token = jwt.decode(to_bytes(value), key, algorithms=list(CLIENT_ALGORITHMS), registry=_CLIENT_REGISTRY)
    except InvalidKeyIdError:
        raise JoseRefused("unknown_kid") from None
    except BadSignatureError:
        raise JoseRefused("bad_signature") from None
    except UnsupportedAlgorithmError:
        raise JoseRefused("algorithm_not_allowed") from None
    except (JoseError, ValueError, TypeError):
        raise JoseRefused("jwt_malformed") from None
    return dict(token.header), dict(token.claims)


def thumbprint(key: Key) -> str:
    """RFC 7638 SHA-256 thumbprint, base64url: DPoP's `jkt`."""
    return str(key.thumbprint())


# --- Attestations encrypted to the consumer ---------------------------------------------------

# ECDH-ES key agreement wrapping an AES-256 key, content in AES-256-GCM (Myinfo v5's choice).
ENCRYPTION_ALGORITHM = "ECDH-ES+A256KW"
CONTENT_ENCRYPTION = "A256GCM"
_ENCRYPTION_REGISTRY = jwe.JWERegistry(algorithms=[ENCRYPTION_ALGORITHM, CONTENT_ENCRYPTION])


def encryption_key_usable(key: Key) -> bool:
    """Whether ECDH-ES can encrypt to `key`: an EC key on a NIST curve, or an X25519/X448 key."""
    curve = key.get("crv")
    return (key.key_type == "EC" and curve in ("P-256", "P-384", "P-521")) or (
        key.key_type == "OKP" and curve in ("X25519", "X448")
    )


def encrypt_to(plaintext: str, key: Key, *, content_type: str) -> str:
    """A compact JWE of `plaintext` (a nested JWS, `cty` its type) that only the holder of `key`'s
    private half can read."""
    header = {"alg": ENCRYPTION_ALGORITHM, "enc": CONTENT_ENCRYPTION, "cty": content_type}
    if key.kid:
        header["kid"] = key.kid
    return jwe.encrypt_compact(header, to_bytes(plaintext), key, registry=_ENCRYPTION_REGISTRY)
