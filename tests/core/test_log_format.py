"""The log lines' times are UTC whatever the process's time zone (Django sets it to TIME_ZONE)."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator

import pytest
from django.conf import settings

from core.logfilters import UtcFormatter


@pytest.fixture
def paris_time() -> Iterator[None]:
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "Europe/Paris"
    time.tzset()
    yield
    if previous is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = previous
    time.tzset()


def test_a_log_line_gives_its_time_in_utc_with_a_z(paris_time: None) -> None:
    # 2026-07-01 12:00:00.250 UTC is 14:00 in Paris (summer time).
    record = logging.LogRecord("gateway", logging.INFO, __file__, 1, "hello", None, None)
    record.created = 1782907200.25
    record.msecs = 250.0
    formatter = UtcFormatter("%(asctime)s %(message)s")

    assert formatter.format(record) == "2026-07-01T12:00:00.250Z hello"


def test_the_settings_use_it_for_the_console() -> None:
    formatter = settings.LOGGING["formatters"]["plain"]
    assert formatter["()"] == "core.logfilters.UtcFormatter"
    assert any(isinstance(handler.formatter, UtcFormatter) for handler in logging.getLogger().handlers)
