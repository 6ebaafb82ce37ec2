"""Signing keys: the JWS keys (attestations, consent artefacts), the webhook keys and the audit
log's note key.

Keys are Ed25519 PEM files named by settings. With GATEWAY_KEYS_GENERATE (on in DEBUG and demo
mode) missing files are created once under GATEWAY_KEYS_DIR, so the embedded default works from a
fresh clone; in production a missing key is a start-up error, never a silently new identity.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


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


def jws_key_files() -> list[Path]:
    """The JWS key files, current first. Rotation: put the new file first, keep the old ones
    listed (they stay published so that earlier attestations and artefacts keep verifying)."""
    return [Path(path) for path in settings.JWS_KEY_FILES or [settings.KEYS_DIR / "jws-current.pem"]]


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
