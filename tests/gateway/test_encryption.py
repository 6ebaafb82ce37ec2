"""Data encrypted at rest (core.encryption): bound to its purpose, its row and SECRET_KEY."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

from core.encryption import decrypt, encrypt
from gateway.services.results import result_decrypt


def test_it_decrypts_what_it_encrypted_for_the_same_purpose_and_row_only(settings: Any) -> None:
    sealed = encrypt(b"whsec", purpose="webhook-secret", associated_data=b"organisation:1")

    assert b"whsec" not in sealed
    assert decrypt(sealed, purpose="webhook-secret", associated_data=b"organisation:1") == b"whsec"
    with pytest.raises(InvalidTag):
        decrypt(sealed, purpose="webhook-secret", associated_data=b"organisation:2")
    with pytest.raises(InvalidTag):
        decrypt(sealed, purpose="exchange-result", associated_data=b"organisation:1")
    settings.SECRET_KEY = "another-secret-key-" + "y" * 40
    with pytest.raises(InvalidTag):
        decrypt(sealed, purpose="webhook-secret", associated_data=b"organisation:1")


def test_results_encrypted_before_the_shared_module_still_decrypt() -> None:
    """The former in-place derivation of gateway/services/results.py, written out as it was."""
    exchange_id = uuid.uuid4()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"gateway/exchange-result/v1").derive(
        settings.SECRET_KEY.encode()
    )
    nonce = os.urandom(12)
    legacy = nonce + AESGCM(key).encrypt(nonce, b'{"fields":{"qf":812}}', exchange_id.bytes)

    assert result_decrypt(exchange_id=exchange_id, ciphertext=legacy) == {"fields": {"qf": 812}}
