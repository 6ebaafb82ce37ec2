"""The gateway suites' fixtures (OAuth clients with secrets, consents), shared with the interop tests."""

from __future__ import annotations

from tests.gateway.conftest import (  # noqa: F401 (fixtures, registered by being imported here)
    celery_eager,
    mairie_client,
    mairie_web_client,
    make_consent,
    make_consumer,
)
