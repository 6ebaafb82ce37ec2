from __future__ import annotations

import http.client
import json
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from providers.demo import catalogue_load
from providers.models import AttestationType
from tests.conftest import SANDBOX_TOKEN


@pytest.fixture
def http_catalogue(catalogue: None, sandbox_url: str) -> str:
    """The catalogue with every type served by the sandbox over HTTP; returns the sandbox URL."""
    catalogue_load(adapter_kind=AttestationType.AdapterKind.HTTP, base_url=sandbox_url)
    return sandbox_url


@pytest.fixture
def sandbox_fault(sandbox_url: str) -> Callable[..., None]:
    """Tells the running sandbox to misbehave until the end of the test."""

    def set_fault(mode: str, *, slug: str | None = None, latency_ms: int | None = None) -> None:
        parts = urlsplit(sandbox_url)
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=5)
        body = {"mode": mode, "slug": slug, **({"latency_ms": latency_ms} if latency_ms is not None else {})}
        try:
            connection.request(
                "PUT",
                "/_sandbox/faults",
                body=json.dumps(body),
                headers={"Authorization": f"Bearer {SANDBOX_TOKEN}", "Content-Type": "application/json"},
            )
            assert connection.getresponse().status == 200
        finally:
            connection.close()

    return set_fault
