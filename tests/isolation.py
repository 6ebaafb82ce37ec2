"""Keeps test processes apart on the shared Redis database (a plugin: `-p tests.isolation`).

pytest-django gives each pytest-xdist worker its own PostgreSQL database (`test_<name>_gw0`, ...);
Redis is one database for the whole run (TEST_REDIS_URL). So each test process, and each run,
gets its own Celery queue, so that a Celery worker started by one never takes another's tasks,
and its own cache key prefix. gateway/settings.py reads both from the environment, hence a
plugin: its hook runs before pytest-django loads the settings, which conftest files cannot do.
"""

from __future__ import annotations

import os
import secrets

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config, parser: pytest.Parser, args: list[str]) -> None:
    # xdist gives its workers the run's id and each its own name; a run without xdist makes its own.
    run = os.environ.get("PYTEST_XDIST_TESTRUNUID", secrets.token_hex(4))[:8]
    process = os.environ.get("PYTEST_XDIST_WORKER", "main")
    os.environ["CELERY_QUEUE"] = os.environ["CACHE_KEY_PREFIX"] = f"tests-{run}-{process}"
    # Leaf partitions of eight leaves (production: 2**24), so that tests fill and archive them.
    os.environ.setdefault("AUDIT_LEAF_PARTITION_SIZE", "8")
