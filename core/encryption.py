"""Data kept encrypted at rest under a key derived from a secret setting (SECRET_KEY unless the
caller names another).

AES-256-GCM. Each purpose gets its own key, derived by HKDF-SHA256 with the purpose in `info`,
so a key serves one kind of data only. The caller's associated data (typically the row's id)
binds a ciphertext to its row: copied into another row, it no longer decrypts. Stored as
nonce (12 bytes) ‖ ciphertext.
"""

from __future__ import annotations

import os
from functools import cache

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

NONCE_BYTES = 12


@cache
def _key(secret_key: str, purpose: str) -> bytes:
    info = f"gateway/{purpose}/v1".encode()
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret_key.encode())


def encrypt(plaintext: bytes, *, purpose: str, associated_data: bytes, secret: str | None = None) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    key = _key(secret or settings.SECRET_KEY, purpose)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)


def decrypt(ciphertext: bytes, *, purpose: str, associated_data: bytes, secret: str | None = None) -> bytes:
    """Raises cryptography's InvalidTag when the data, its row or the secret do not match."""
    data = bytes(ciphertext)
    key = _key(secret or settings.SECRET_KEY, purpose)
    return AESGCM(key).decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], associated_data)
