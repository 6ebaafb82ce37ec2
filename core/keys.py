"""Signing keys: the JWS keys (attestations, consent artefacts), the webhook keys and the audit
log's note key.

Keys are Ed25519 PEM files named by settings. With GATEWAY_KEYS_GENERATE (on in DEBUG and demo
mode) missing files are created once under GATEWAY_KEYS_DIR, so the embedded default works from a
fresh clone; in production a missing key is a start-up error, never a silently new identity.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class JwsKey:
    kid: str
    private_key: Ed25519PrivateKey

    @property
    def public_bytes(self) -> bytes:
        return self.private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    def public_jwk(self) -> dict[str, str]:
        return {
            "kty": "OKP",
            "crv": "Ed25519",
            "x": b64url(self.public_bytes),
            "kid": self.kid,
            "use": "sig",
            "alg": "EdDSA",
        }


def jwk_thumbprint(public_bytes: bytes) -> str:
    """RFC 7638 thumbprint: the kid is derived from the key, so it cannot drift from it."""
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": b64url(public_bytes)}, separators=(",", ":"), sort_keys=True
    )
    return b64url(hashlib.sha256(canonical.encode()).digest())


def load_or_create_ed25519(path: Path) -> Ed25519PrivateKey:
    if not path.exists():
        if not settings.KEYS_GENERATE:
            raise ImproperlyConfigured(
                f"Signing key {path} does not exist. Provide it (see README.md, 'Keys') or set "
                "GATEWAY_KEYS_GENERATE=1 outside production."
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        # O_EXCL: two processes starting together must not each write a different key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ImproperlyConfigured(f"{path} is not an Ed25519 private key.")
    return key


@cache
def jws_keys() -> tuple[JwsKey, ...]:
    """The JWS keys, current first. Rotation: put the new file first, keep the old ones listed."""
    files = settings.JWS_KEY_FILES or [settings.KEYS_DIR / "jws-current.pem"]
    keys = []
    for path in files:
        private_key = load_or_create_ed25519(Path(path))
        public = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        keys.append(JwsKey(kid=jwk_thumbprint(public), private_key=private_key))
    return tuple(keys)


def current_jws_key() -> JwsKey:
    return jws_keys()[0]


def jwks() -> dict[str, Any]:
    return {"keys": [key.public_jwk() for key in jws_keys()]}


def canonical_payload(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), sort_keys=True, ensure_ascii=False).encode()


def sign_jws(payload: dict[str, Any], *, typ: str) -> str:
    """Compact JWS (RFC 7515) with EdDSA (RFC 8037) over the JSON payload, kid in the header."""
    key = current_jws_key()
    header = {"alg": "EdDSA", "kid": key.kid, "typ": typ}
    signing_input = b64url(canonical_payload(header)) + "." + b64url(canonical_payload(payload))
    signature = key.private_key.sign(signing_input.encode("ascii"))
    return signing_input + "." + b64url(signature)


def verify_jws(token: str) -> dict[str, Any]:
    """Checks a JWS against our published keys; raises ValueError when it does not verify."""
    try:
        header_b64, payload_b64, signature_b64 = token.split(".")
        header = json.loads(b64url_decode(header_b64))
        key = next(k for k in jws_keys() if k.kid == header.get("kid"))
        if header.get("alg") != "EdDSA":
            raise ValueError("unexpected alg")
        public: Ed25519PublicKey = key.private_key.public_key()
        public.verify(b64url_decode(signature_b64), f"{header_b64}.{payload_b64}".encode("ascii"))
        payload: dict[str, Any] = json.loads(b64url_decode(payload_b64))
    except Exception as exc:  # every failure is the same answer: it does not verify
        raise ValueError("signature does not verify") from exc
    return payload


@cache
def log_signing_key() -> Ed25519PrivateKey:
    return load_or_create_ed25519(settings.LOG_KEY_FILE or settings.KEYS_DIR / "audit-log.pem")


def webhook_signing_keys() -> tuple[Ed25519PrivateKey, ...]:
    """The keys that sign webhooks (Standard Webhooks `v1a`), current first. Every listed key signs
    every webhook, so receivers can trust a new key before the old one leaves the list."""
    files = settings.WEBHOOK_KEY_FILES or [settings.KEYS_DIR / "webhook-current.pem"]
    return _ed25519_keys(tuple(Path(path) for path in files))


@cache
def _ed25519_keys(paths: tuple[Path, ...]) -> tuple[Ed25519PrivateKey, ...]:
    return tuple(load_or_create_ed25519(path) for path in paths)
