"""Requests per minute per OAuth client (or per any key), counted in Redis (fixed one-minute windows).

One command per request: a server-side script that counts and, on a window's first request, sets
its expiry (cheaper in CPU than a pipeline of INCR and EXPIRE, and atomic). The limit is the organisation's
`rate_limit_per_minute` or RATE_LIMIT_PER_MINUTE. Without Redis (the embedded default) the
process-local cache counts instead.
"""

from __future__ import annotations

import logging
import math
import time
from functools import cache
from typing import Any

import redis
from django.conf import settings
from django.core.cache import cache as django_cache
from django.http import HttpRequest
from rest_framework.request import Request
from rest_framework.throttling import BaseThrottle

from core.authentication import Caller

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60


_COUNT = """
local count = redis.call('INCR', KEYS[1])
if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


@cache
def _counter() -> Any:
    client = redis.Redis.from_url(settings.REDIS_URL, socket_timeout=0.5, socket_connect_timeout=0.5)
    return client.register_script(_COUNT)


def _increment(key: str, ttl: int) -> int:
    if settings.REDIS_URL:
        return int(_counter()(keys=[key], args=[ttl]))
    django_cache.add(key, 0, ttl)
    return int(django_cache.incr(key))


def ratelimit_count(*, key: str, limit: int, now: float | None = None) -> int | None:
    """Counts one request against `key`; returns the seconds to wait when over the limit, else None."""
    now = time.time() if now is None else now
    window = int(now // WINDOW_SECONDS)
    try:
        count = _increment(f"ratelimit:{key}:{window}", WINDOW_SECONDS + 1)
    except (redis.RedisError, ValueError) as exc:
        # Fail open: a Redis outage must not take the exchange down with it; readyz reports it.
        logger.warning("Rate limit not counted: %s", type(exc).__name__)
        return None
    if count <= limit:
        return None
    return max(1, math.ceil((window + 1) * WINDOW_SECONDS - now))


def ratelimit_usage(*, key: str, now: float | None = None) -> int:
    """The requests counted against `key` in the current window (0 when none, or unreadable)."""
    now = time.time() if now is None else now
    name = f"ratelimit:{key}:{int(now // WINDOW_SECONDS)}"
    try:
        value = _counter().registered_client.get(name) if settings.REDIS_URL else django_cache.get(name)
    except redis.RedisError as exc:
        logger.warning("Rate limit not read: %s", type(exc).__name__)
        return 0
    return int(value or 0)


def ratelimit_hit(*, client_id: str, limit: int, now: float | None = None) -> int | None:
    """Counts one API request of an OAuth client."""
    return ratelimit_count(key=client_id, limit=limit, now=now)


def source_address(request: HttpRequest) -> str:
    """The address a request came from. With TRUSTED_PROXY_HOPS proxies in front, each appending
    the address it saw to X-Forwarded-For, it is the entry that many places from the right: the
    entries further left are whatever the client wrote."""
    remote = str(request.META.get("REMOTE_ADDR", ""))
    hops = settings.TRUSTED_PROXY_HOPS
    if hops <= 0:
        return remote
    forwarded = [entry.strip() for entry in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if entry.strip()]
    return forwarded[-hops] if len(forwarded) >= hops else remote


class ClientRateThrottle(BaseThrottle):
    """DRF throttle for every API call made with an OAuth client's token (429 rate_limited)."""

    def __init__(self) -> None:
        self._wait: int | None = None

    def allow_request(self, request: Request, view: Any) -> bool:
        caller = request.user
        if not isinstance(caller, Caller):
            return True
        limit = caller.rate_limit_per_minute or settings.RATE_LIMIT_PER_MINUTE
        self._wait = ratelimit_hit(client_id=caller.client_id, limit=int(limit))
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait
