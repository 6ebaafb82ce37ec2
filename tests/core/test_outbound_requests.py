"""Libraries that speak `requests` (Authlib) reach the network only through the outbound door: its
policy on private addresses, its timeout and its size cap apply to them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from core.outbound_requests import outbound_session


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/slow":
            time.sleep(1.5)
        body = (
            b"x" * 5000
            if self.path == "/big"
            else b'{"ok": true, "encoding": "%s"}' % (self.headers.get("Accept-Encoding", "").encode())
        )
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-www-form-urlencoded")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def remote() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def session(timeout: float = 2.0) -> requests.Session:
    return outbound_session(requests.Session(), timeout=timeout)


@pytest.fixture
def allowed(settings: Any) -> None:
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.OUTBOUND_MAX_RESPONSE_BYTES = 1000


@pytest.mark.usefixtures("allowed")
class TestOutboundSession:
    def test_it_answers_like_requests_without_compression(self, remote: str) -> None:
        response = session().get(f"{remote}/ok")

        assert response.status_code == 200
        assert response.json() == {"ok": True, "encoding": "identity"}
        assert session().post(f"{remote}/echo", data={"a": "b"}).text == "a=b"

    def test_a_slow_server_is_cut_off_at_the_door_s_timeout(self, remote: str) -> None:
        with pytest.raises(requests.Timeout):
            session(timeout=0.3).get(f"{remote}/slow")

    def test_a_body_over_the_cap_is_an_error(self, remote: str) -> None:
        with pytest.raises(requests.ConnectionError):
            session().get(f"{remote}/big")


def test_a_private_address_is_refused_unless_listed(remote: str) -> None:
    with pytest.raises(requests.ConnectionError, match="OUTBOUND_ALLOWED_HOSTS"):
        session().get(f"{remote}/ok")
