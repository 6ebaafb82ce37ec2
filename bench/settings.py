"""Benchmark-only settings: the product's settings, without the rate limit's refusals."""

from __future__ import annotations

from gateway.settings import *  # noqa: F403

# The benchmark measures the exchange, not the rate limiter's refusals.
RATE_LIMIT_PER_MINUTE = 10_000_000
