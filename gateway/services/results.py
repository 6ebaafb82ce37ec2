"""An asynchronous exchange's result, held encrypted until collected or expired.

Encrypted with core.encryption under its own purpose; the exchange id is the associated data, so a
ciphertext cannot be moved to another exchange's row.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from core.encryption import decrypt, encrypt

# The HKDF info is "gateway/exchange-result/v1": results written before core.encryption existed
# still decrypt.
PURPOSE = "exchange-result"


def result_encrypt(*, exchange_id: uuid.UUID, result: dict[str, Any]) -> bytes:
    plaintext = json.dumps(result, separators=(",", ":"), ensure_ascii=False).encode()
    return encrypt(plaintext, purpose=PURPOSE, associated_data=exchange_id.bytes)


def result_decrypt(*, exchange_id: uuid.UUID, ciphertext: bytes) -> dict[str, Any]:
    plaintext = decrypt(ciphertext, purpose=PURPOSE, associated_data=exchange_id.bytes)
    result: dict[str, Any] = json.loads(plaintext)
    return result
