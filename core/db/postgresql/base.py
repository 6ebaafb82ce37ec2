"""Django's PostgreSQL backend with PgBouncer's `server_check_delay` for connection health checks.

With `CONN_HEALTH_CHECKS`, Django sends `SELECT 1` before the first query of every request: one
more round trip per exchange, a fifth of the exchange's latency. A connection that served a
request without a connection error less than `DATABASE_HEALTH_CHECK_DELAY` seconds ago is taken as healthy
without asking, as PgBouncer does for the server connections it hands out; a connection idle for
longer is checked (and replaced when the server has gone) before it serves a request.
"""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    health_check_done: bool

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.health_check_delay: float = settings.DATABASE_HEALTH_CHECK_DELAY
        self.verified_at = float("-inf")

    def close_if_unusable_or_obsolete(self) -> None:
        # Called as each request (or task) starts and ends. `health_check_done` set means this
        # request ran queries; no error flag means none of them found the connection broken.
        used_cleanly = self.connection is not None and self.health_check_done and not self.errors_occurred
        super().close_if_unusable_or_obsolete()
        if used_cleanly and self.connection is not None:
            self.verified_at = time.monotonic()

    def close_if_health_check_failed(self) -> None:
        if (
            self.connection is not None
            and not self.health_check_done
            and time.monotonic() - self.verified_at < self.health_check_delay
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()
