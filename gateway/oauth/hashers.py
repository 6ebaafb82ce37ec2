"""Client secrets at rest: HMAC-SHA-256 under a server key, as a Django password hasher.

The gateway generates every client secret (django-oauth-toolkit's generator: 128 characters drawn
from 62, over 700 bits), so none can be guessed and key stretching buys nothing. DOT's default,
PBKDF2 with a million iterations, cost about a second of CPU per check: every wrong secret sent
for a known client id burnt that second, and the time of the answer told which client ids exist.
What a stored value must resist is a copy of the database, and the key is not in it: it is
OAUTH_CLIENT_SECRET_KEY, else derived from SECRET_KEY.

`ClientSecretHasher` is registered in PASSWORD_HASHERS and named by DOT's CLIENT_SECRET_HASHER, so
`ClientSecretField` stores new secrets with it. Secrets stored before (PBKDF2) keep working and are
stored again under the keyed hash the first time they are presented right (`client_secret_check`):
a one-way hash cannot be converted without the secret, so no migration can do it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import BasePasswordHasher, check_password, identify_hasher, mask_hash
from django.utils.crypto import constant_time_compare, get_random_string
from django.utils.translation import gettext_noop

ALGORITHM = "hmac_sha256"


@lru_cache(maxsize=4)
def _derived_key(secret: str) -> bytes:
    # A key for this one use, whichever secret it comes from.
    return hmac.new(secret.encode(), b"gateway/oauth/client-secret", hashlib.sha256).digest()


def _key() -> bytes:
    return _derived_key(settings.OAUTH_CLIENT_SECRET_KEY or settings.SECRET_KEY)


class ClientSecretHasher(BasePasswordHasher):
    """`hmac_sha256$<salt>$<base64 HMAC-SHA-256(key, salt "$" secret)>`; the salt keeps two equal
    secrets from being stored alike."""

    algorithm = ALGORITHM

    def encode(self, password: str, salt: str) -> str:
        if not salt or "$" in salt:
            raise ValueError("A salt without $ is needed.")
        digest = hmac.new(_key(), f"{salt}${password}".encode(), hashlib.sha256).digest()
        return f"{self.algorithm}${salt}${base64.b64encode(digest).decode('ascii')}"

    def decode(self, encoded: str) -> dict[str, str]:
        algorithm, salt, digest = encoded.split("$", 2)
        if algorithm != self.algorithm:
            raise ValueError("Not a client secret hash.")
        return {"algorithm": algorithm, "salt": salt, "hash": digest}

    def verify(self, password: str, encoded: str) -> bool:
        return constant_time_compare(encoded, self.encode(password, self.decode(encoded)["salt"]))

    def safe_summary(self, encoded: str) -> dict[Any, Any]:
        decoded = self.decode(encoded)
        return {
            gettext_noop("algorithm"): decoded["algorithm"],
            gettext_noop("salt"): mask_hash(decoded["salt"], show=2),
            gettext_noop("hash"): mask_hash(decoded["hash"]),
        }

    def harden_runtime(self, password: str, encoded: str) -> None:
        # Nothing to even out: every check costs one HMAC.
        pass


@cache
def _dummy() -> str:
    # A stored value no presented secret matches, checked when there is no client.
    return ClientSecretHasher().encode(get_random_string(32), get_random_string(22))


def client_secret_check(secret: str | None, stored: str | None, *, rehash: Callable[[str], None]) -> bool:
    """Whether `secret` is the one `stored` keeps. No client (`stored` None) or no secret costs the
    same one HMAC as a real check, so the answer's timing tells nothing. A right secret stored under
    another hasher (PBKDF2, before the keyed hash) is handed to `rehash` to be stored again."""
    if stored is None or secret is None:
        ClientSecretHasher().verify(secret or "", _dummy())
        return False
    try:
        identify_hasher(stored)
    except ValueError:
        # Kept in clear (an application with hash_client_secret off), as DOT allows.
        return constant_time_compare(secret, stored)
    return check_password(secret, stored, setter=rehash, preferred=ALGORITHM)
