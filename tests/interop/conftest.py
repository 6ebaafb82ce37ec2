"""The gateway suites' fixtures (OAuth clients with secrets, consents), shared with the interop tests,
and the browser suites' Chromium for the citizen's part of the FAPI journey."""

from __future__ import annotations

from tests.e2e.conftest import browser, page  # noqa: F401 (fixtures, registered by being imported here)
from tests.gateway.conftest import (  # noqa: F401 (fixtures, registered by being imported here)
    celery_eager,
    mairie_client,
    mairie_web_client,
    make_consent,
    make_consumer,
)
