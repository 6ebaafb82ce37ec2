"""Helpers for tests that run real processes: free ports, a Celery worker, npm packages, and waiting on a
condition with a deadline."""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(
    condition: Callable[[], bool],
    *,
    timeout: float = 30.0,
    interval: float = 0.05,
    what: str = "",
    context: Callable[[], str] | None = None,
) -> None:
    """Polls `condition` until it holds; fails the test with `what` after `timeout` seconds.

    The deadline only bounds a wait for something that should happen: a slow machine makes the
    wait longer, never the test fail. `context` adds what explains a failure (a process's log)
    to the message. An exception from `condition` ends the wait at once (a process that died).
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            message = f"timed out after {timeout:.0f} s waiting for {what or condition!r}"
            raise AssertionError(f"{message}\n{context()}" if context else message)
        time.sleep(interval)


def wait_for_http(url: str, *, timeout: float = 60.0) -> None:
    """Waits until `url` answers 200."""

    def up() -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - loopback test servers
                return bool(response.status == 200)
        except (OSError, urllib.error.URLError):
            return False

    wait_until(up, timeout=timeout, interval=0.2, what=url)


class CeleryWorker:
    """A real Celery worker process (solo pool) of the gateway, consuming one queue."""

    def __init__(self, *, queue: str, env: Mapping[str, str], cwd: Path, log: Path, loglevel: str = "WARNING") -> None:
        self.queue = queue
        self.log = log
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "gateway",
                    "worker",
                    "--pool=solo",
                    f"--loglevel={loglevel}",
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                    "-Q",
                    queue,
                ],
                cwd=cwd,
                env=dict(env),
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def log_tail(self) -> str:
        return "Celery worker's log (end):\n" + self.log.read_text(errors="replace")[-3000:]

    def alive(self) -> bool:
        return self.process.poll() is None

    def wait_until(self, condition: Callable[[], bool], *, what: str, timeout: float = 60.0) -> None:
        """`wait_until` that fails at once, with the worker's log, if the worker has exited."""

        def done() -> bool:
            if not self.alive():
                raise AssertionError(f"the Celery worker exited ({self.process.returncode})\n{self.log_tail()}")
            return condition()

        wait_until(done, timeout=timeout, interval=0.1, what=what, context=self.log_tail)

    def stop(self) -> None:
        """Warm shutdown (finishes the task at hand), then a kill if it takes too long."""
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class Gunicorn:
    """gunicorn serving the gateway with the repository's gunicorn.conf.py, on a port of its own."""

    def __init__(self, *, env: Mapping[str, str], cwd: Path, log: Path, workers: int = 1) -> None:
        self.port = free_port()
        self.log = log
        with log.open("wb") as output:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "gateway.wsgi:application"],
                cwd=cwd,
                env={**env, "GUNICORN_BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": str(workers)},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        try:
            wait_for_http(f"{self.url}/healthz")
        except AssertionError:
            self.stop()
            raise AssertionError("gunicorn did not start:\n" + log.read_text(errors="replace")[-3000:]) from None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def npm_ci(directory: Path) -> None:
    """`npm ci` in `directory` once per lock file, whatever the number of test processes asking
    at once (a file lock; a stamp of the lock file's hash in node_modules)."""
    npm = shutil.which("npm")
    if shutil.which("node") is None or npm is None:
        pytest.fail("These tests need Node.js and npm: `apt-get install nodejs npm`.")
    lock = (directory / "package-lock.json").read_bytes()
    stamp = directory / "node_modules" / ".installed-lock-sha256"
    wanted = hashlib.sha256(lock).hexdigest()
    with open(directory / ".npm-ci.lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)
        if stamp.exists() and stamp.read_text() == wanted:
            return
        result = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--prefer-offline"],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            pytest.fail(f"npm ci failed in {directory}:\n{result.stderr[-2000:]}")
        stamp.write_text(wanted)
