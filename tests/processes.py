"""Helpers for tests that run real processes: free ports, and waiting on a condition with a deadline."""

from __future__ import annotations

import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], *, timeout: float = 30.0, interval: float = 0.05, what: str = "") -> None:
    """Polls `condition` until it holds; fails the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what or condition!r}")
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
