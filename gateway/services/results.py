"""An asynchronous exchange's result, held encrypted until collected or expired.

AES-256-GCM with a key derived from SECRET_KEY by HKDF-SHA256 (its own `info`, so the key serves
nothing else); the exchange id is the associated data, so a ciphertext cannot be moved to another
exchange's row. Stored as nonce (12 bytes) ‖ ciphertext.
"""

from __future__ import annotations

import json
import os
import uuid
from functools import cache
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

NONCE_BYTES = 12


@cache
def _key(secret_key: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"gateway/exchange-result/v1").derive(
        secret_key.encode()
    )


def result_encrypt(*, exchange_id: uuid.UUID, result: dict[str, Any]) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    plaintext = json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode()
    return nonce + AESGCM(_key(settings.SECRET_KEY)).encrypt(nonce, plaintext, exchange_id.bytes)


def result_decrypt(*, exchange_id: uuid.UUID, ciphertext: bytes) -> dict[str, Any]:
    data = bytes(ciphertext)
    plaintext = AESGCM(_key(settings.SECRET_KEY)).decrypt(data[:NONCE_BYTES], data[NONCE_BYTES:], exchange_id.bytes)
    result: dict[str, Any] = json.loads(plaintext)
    return result
