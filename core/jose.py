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
from joserfc import jws
from joserfc.jwk import OKPKey
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
