"""What a FAPI 2.0 client does, written with joserfc (the test's own JOSE, whatever the gateway
does inside): keys, client assertions (RFC 7523) and DPoP proofs (RFC 9449)."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from joserfc.jwk import ECKey, Key, OKPKey, RSAKey

from core.dpop import dpop_nonce

ISSUER = "http://testserver"
TOKEN_URL = "/oauth/token/"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def new_key(alg: str = "ES256", kid: str | None = None) -> Key:
    parameters = {"kid": kid or secrets.token_hex(4), "use": "sig", "alg": alg}
    if alg == "ES256":
        return ECKey.generate_key("P-256", parameters=parameters)
    if alg == "EdDSA":
        return OKPKey.generate_key("Ed25519", parameters=parameters)
    return RSAKey.generate_key(2048, parameters=parameters)


def public_jwks(*keys: Key) -> dict[str, Any]:
    return {"keys": [key.as_dict(private=False) for key in keys]}


def assertion(
    client_id: str,
    key: Key,
    *,
    alg: str | None = None,
    header: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": client_id,
        "sub": client_id,
        "aud": ISSUER,
        "iat": now,
        "exp": now + 50,
        "jti": secrets.token_urlsafe(16),
    }
    payload.update(claims)
    payload = {name: value for name, value in payload.items() if value is not None}
    head = {"alg": alg or key.get("alg") or "ES256", "kid": key.kid, **(header or {})}
    head = {name: value for name, value in head.items() if value is not None}
    return jwt.encode(head, payload, key, algorithms=[head["alg"]])


def assertion_body(client_id: str, key: Key, **claims: Any) -> dict[str, str]:
    return {"client_assertion_type": JWT_BEARER, "client_assertion": assertion(client_id, key, **claims)}


def ath(token: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()


@dataclass
class DpopKey:
    """A client's DPoP key: signs one proof per request."""

    key: Key = field(default_factory=lambda: new_key("ES256"))

    @property
    def jkt(self) -> str:
        return str(self.key.thumbprint())

    def proof(
        self,
        method: str,
        url: str,
        *,
        token: str | None = None,
        nonce: str | None = "current",
        header: dict[str, Any] | None = None,
        **claims: Any,
    ) -> str:
        head = {"typ": "dpop+jwt", "alg": self.key.get("alg") or "ES256", "jwk": self.key.as_dict(private=False)}
        head.update(header or {})
        payload: dict[str, Any] = {
            "jti": secrets.token_urlsafe(16),
            "htm": method,
            "htu": url,
            "iat": int(time.time()),
        }
        if nonce == "current":
            payload["nonce"] = dpop_nonce()
        elif nonce is not None:
            payload["nonce"] = nonce
        if token is not None:
            payload["ath"] = ath(token)
        payload.update(claims)
        payload = {name: value for name, value in payload.items() if value is not None}
        head = {name: value for name, value in head.items() if value is not None}
        return jwt.encode(head, payload, self.key, algorithms=[head["alg"]])
