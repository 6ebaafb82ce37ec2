"""Faults with real processes: a Redis server of the test's own that the test kills and restarts,
and Celery workers on it that the test may kill with SIGKILL."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
from django.conf import settings as django_settings
from django.db import connection
from kombu import pools as kombu_pools

from gateway.celery import app as celery_app
from tests.processes import CeleryWorker, free_port, wait_until

pytestmark = pytest.mark.faults


class RedisServer:
    """A redis-server on a port of its own, in memory only, that the test stops and starts."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        executable = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = subprocess.Popen(
            [executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self.answers, timeout=20, what=f"redis-server on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: the broker is gone at once, with whatever it held in memory."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def answers(self) -> bool:
        try:
            return bool(redis.Redis.from_url(self.url, socket_connect_timeout=0.5).ping())
        except redis.RedisError:
            return False


def _use_broker(url: str) -> None:
    # Celery reads its broker once and keeps a pool of connections: point it elsewhere and drop them.
    # The pools live in kombu's registry, keyed by broker: closing one there without emptying the
    # registry would hand the same closed pool to the next test on that broker.
    celery_app.conf.broker_url = url
    kombu_pools.reset()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.fixture
def broker(tmp_path: Path, transactional_db: None) -> Iterator[RedisServer]:
    """A Redis of the test's own as Celery's broker, tasks no longer run in-process (the test's rows
    are committed, so that workers see them)."""
    server = RedisServer(tmp_path)
    server.start()
    previous_url, previous_eager = celery_app.conf.broker_url, celery_app.conf.task_always_eager
    _use_broker(server.url)
    celery_app.conf.task_always_eager = False
    yield server
    server.kill()
    celery_app.conf.task_always_eager = previous_eager
    _use_broker(previous_url)


@pytest.fixture
def start_worker(broker: RedisServer, tmp_path: Path) -> Iterator[Callable[..., CeleryWorker]]:
    """Starts real Celery workers on the test's broker and database (stopped after the test)."""
    started: list[CeleryWorker] = []
    database_url = urlsplit(os.environ["DATABASE_URL"])._replace(path="/" + connection.settings_dict["NAME"]).geturl()

    def start(**environment: Any) -> CeleryWorker:
        env = {
            **os.environ,
            "DATABASE_URL": database_url,
            "REDIS_URL": broker.url,
            # The tests' receivers and sandbox provider listen on 127.0.0.1.
            "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1",
            **{name: str(value) for name, value in environment.items()},
        }
        worker = CeleryWorker(
            queue=django_settings.CELERY_TASK_DEFAULT_QUEUE,
            env=env,
            cwd=django_settings.BASE_DIR,
            log=tmp_path / f"worker-{len(started)}.log",
        )
        started.append(worker)
        return worker

    yield start
    for worker in started:
        if worker.alive():
            worker.stop()
