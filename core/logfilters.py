"""Logging filters that keep personal data out of application logs, and the log lines' format.

Exception messages and tracebacks can carry whatever the failing code held (names, identities,
provider answers). Logs keep the exception type and where it was raised, nothing more.
"""

from __future__ import annotations

import logging
import time
import traceback

from core.correlation import get_correlation_id


class RedactExceptions(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            frames = traceback.extract_tb(exc.__traceback__)
            origin = f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"
            record.msg = f"{record.getMessage()} [{type(exc).__name__} at {origin}]"
            record.args = None
            record.exc_info = None
            record.exc_text = None
        return True


class CorrelationId(logging.Filter):
    """Puts the correlation id of the request or task being served on every log line (`-` outside
    one): the id a 500's body and X-Correlation-Id header give the client to quote."""

    def filter(self, record: logging.LogRecord) -> bool:
        # django.request logs a response once the middleware, the id's holder, has returned; the
        # request the record carries still knows it.
        request_id = getattr(getattr(record, "request", None), "correlation_id", "")
        record.correlation_id = get_correlation_id() or request_id or "-"
        return True


class UtcFormatter(logging.Formatter):
    """Log times in UTC, ISO 8601 with a `Z` (`2026-11-30T18:38:45.123Z`): Django sets the process's
    time zone to TIME_ZONE (Paris, for the pages), and a log read beside another machine's, a
    database's or a trail event's (all UTC) must not be an hour or two off."""

    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"

    def converter(self, seconds: float | None) -> time.struct_time:
        return time.gmtime(seconds)
