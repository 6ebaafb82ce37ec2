"""Single-use values (a client assertion's or a DPoP proof's `jti`), remembered in Redis until they
could no longer be accepted anyway.

One `SET key 1 NX EX ttl` per value: atomic, so two requests racing with the same value cannot
both win. Unlike the rate limits, this fails closed: a proof whose replay cannot be ruled out is
refused (`ReplayCacheUnavailable`). Without Redis (the embedded default) the process-local cache
remembers instead.
"""

from __future__ import annotations

import hashlib
import logging
from functools import cache
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache as django_cache

logger = logging.getLogger(__name__)


class ReplayCacheUnavailable(Exception):
    pass


@cache
def _redis() -> Any:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)


def first_use(*, namespace: str, value: str, ttl: int) -> bool:
    """Whether `value` is seen for the first time in `namespace` (and is now remembered for `ttl`
    seconds); False for a replay. Values are hashed: whatever a client sends makes a short key."""
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    key = f"once:{namespace}:{digest}"
    ttl = max(1, int(ttl))
    if not settings.REDIS_URL:
        return bool(django_cache.add(key, 1, ttl))
    try:
        return bool(_redis().set(key, 1, nx=True, ex=ttl))
    except redis.RedisError as exc:
        logger.warning("Replay cache unavailable: %s", type(exc).__name__)
        raise ReplayCacheUnavailable() from exc
