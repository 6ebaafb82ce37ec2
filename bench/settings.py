"""Benchmark-only settings: the product's settings plus the comparison view's URL."""

from __future__ import annotations

from gateway.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
# The benchmark measures the exchange, not the rate limiter's refusals.
RATE_LIMIT_PER_MINUTE = 10_000_000
