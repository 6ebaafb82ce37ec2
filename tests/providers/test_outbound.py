"""The outbound wrapper against real sockets: a tiny local HTTP server plays the remote side."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.test import override_settings

from core.outbound import (
    OutboundError,
    OutboundRefused,
    OutboundTimeout,
    OutboundTooLarge,
    post,
    post_json,
)


class RemoteHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: RemoteServer

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        self.server.hits.append((self.path, self.headers.get("Host", ""), body))
        self.server.peers.append(self.client_address)
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "/target")
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif self.path == "/big-declared":
            self.send_response(200)
            self.send_header("Content-Length", str(10_000))
            self.end_headers()
            self.wfile.write(b"x" * 10_000)
        elif self.path == "/big-chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for _ in range(20):
                self.wfile.write(b"400\r\n" + b"y" * 1024 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif self.path == "/slow":
            # The scenario: a server that answers later than the client's timeout.
            time.sleep(1.5)
            self._json({"late": True})
        elif self.path == "/close":
            self.close_connection = True
            data = json.dumps({"closed": True}).encode()
            self.send_response(200)
            self.send_header("Connection", "close")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif self.path in {"/drip-body", "/drip-headers"}:
            self._drip()
        elif self.path == "/gzip":
            self.send_response(200)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", "4")
            self.end_headers()
            self.wfile.write(b"\x1f\x8b\x08\x00")
        else:
            self._json({"echo": json.loads(body)})

    def _drip(self) -> None:
        """One byte every 0.3 s, for 30 s: each read gets data well within any socket timeout."""
        head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 100\r\n"
        if self.path == "/drip-headers":
            data = head + b"X-Filler: " + b"x" * 100
        else:
            self.wfile.write(head + b"\r\n")
            self.wfile.flush()
            data = b"1" * 100
        try:
            for byte in data:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.3)
        except OSError:
            return
        self.server.drips_finished.add(self.path)

    def _json(self, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


class RemoteServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), RemoteHandler)
        self.hits: list[tuple[str, str, bytes]] = []
        # The client's (address, port) of each request: one port per connection the client opened.
        self.peers: list[tuple[str, int]] = []
        # Drips that sent their last byte (after 30 s): a client bounded by its timeout never sees one end.
        self.drips_finished: set[str] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # The client hanging up mid-body is what the size-cap tests expect.
        return


@pytest.fixture(scope="module")
def remote() -> Iterator[RemoteServer]:
    server = RemoteServer()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def remote_allowed(remote: RemoteServer) -> Iterator[RemoteServer]:
    remote.hits.clear()
    remote.peers.clear()
    with override_settings(OUTBOUND_ALLOWED_HOSTS=["127.0.0.1"]):
        yield remote


@pytest.fixture
def no_connection(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """Records any attempt to open a socket connection (and fails it), to prove none happens."""
    attempts: list[Any] = []

    def refuse(self: socket.socket, address: Any) -> None:
        attempts.append(address)
        raise AssertionError(f"a connection to {address} was attempted")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    return attempts


class TestOutboundAddressPolicy:
    @pytest.mark.parametrize(
        "url",
        [
            "http://10.0.0.1/attestations/x",
            "http://169.254.169.254/latest/meta-data/",
            "http://127.0.0.1:9/",
            "http://192.168.1.10/",
            "http://[::1]:8100/",
            "http://[::ffff:10.0.0.1]/",
            "http://100.64.0.1/",
            "http://0.0.0.0/",
            "http://localhost:8100/",
        ],
    )
    def test_it_refuses_a_non_public_address_before_connecting(self, url: str, no_connection: list[Any]) -> None:
        with pytest.raises(OutboundRefused):
            post_json(url, json={}, timeout=1)

        assert no_connection == []

    @pytest.mark.parametrize("url", ["ftp://example.org/x", "file:///etc/passwd", "gopher://example.org/"])
    def test_it_refuses_other_schemes(self, url: str, no_connection: list[Any]) -> None:
        with pytest.raises(OutboundRefused):
            post_json(url, json={}, timeout=1)

        assert no_connection == []

    def test_it_refuses_credentials_in_the_url(self, no_connection: list[Any]) -> None:
        with pytest.raises(OutboundRefused):
            post_json("http://user:secret@example.org/", json={}, timeout=1)

    def test_it_refuses_loopback_when_only_another_host_is_allowed(self, remote: RemoteServer) -> None:
        remote.hits.clear()
        with override_settings(OUTBOUND_ALLOWED_HOSTS=["provider.example.fr"]), pytest.raises(OutboundRefused):
            post_json(remote.url + "/echo", json={"a": 1}, timeout=1)

        assert remote.hits == []

    def test_it_requires_a_timeout(self, remote_allowed: RemoteServer) -> None:
        with pytest.raises(ValueError, match="timeout"):
            post_json(remote_allowed.url + "/echo", json={}, timeout=0)


class TestOutboundExchange:
    def test_it_posts_json_to_an_allowed_host(self, remote_allowed: RemoteServer) -> None:
        response = post_json(remote_allowed.url + "/echo", json={"prénom": "Zoé"}, headers={"X-Test": "1"}, timeout=2)

        assert response.status == 200
        assert response.json() == {"echo": {"prénom": "Zoé"}}
        path, host, _ = remote_allowed.hits[-1]
        assert (path, host) == ("/echo", remote_allowed.url.removeprefix("http://"))

    def test_it_sends_a_serialised_body_byte_for_byte(self, remote_allowed: RemoteServer) -> None:
        body = '{ "prénom" : "Zoé" }'.encode()
        response = post(remote_allowed.url + "/echo", body=body, timeout=2)

        assert response.status == 200
        assert remote_allowed.hits[-1][2] == body

    def test_it_does_not_follow_redirects(self, remote_allowed: RemoteServer) -> None:
        response = post_json(remote_allowed.url + "/redirect", json={}, timeout=2)

        assert response.status == 302
        assert [hit[0] for hit in remote_allowed.hits] == ["/redirect"]

    def test_it_stops_at_the_size_cap_announced_by_content_length(self, remote_allowed: RemoteServer) -> None:
        with pytest.raises(OutboundTooLarge):
            post_json(remote_allowed.url + "/big-declared", json={}, timeout=2, max_bytes=5_000)

    def test_it_stops_reading_a_chunked_body_past_the_cap(self, remote_allowed: RemoteServer) -> None:
        with pytest.raises(OutboundTooLarge):
            post_json(remote_allowed.url + "/big-chunked", json={}, timeout=2, max_bytes=5_000)

    def test_it_reads_a_body_within_the_cap(self, remote_allowed: RemoteServer) -> None:
        response = post_json(remote_allowed.url + "/big-chunked", json={}, timeout=2, max_bytes=50_000)

        assert len(response.body) == 20 * 1024

    def test_it_applies_the_settings_cap_by_default(self, remote_allowed: RemoteServer) -> None:
        with override_settings(OUTBOUND_MAX_RESPONSE_BYTES=1_000), pytest.raises(OutboundTooLarge):
            post_json(remote_allowed.url + "/big-declared", json={}, timeout=2)

    def test_it_times_out(self, remote_allowed: RemoteServer) -> None:
        with pytest.raises(OutboundTimeout):
            post_json(remote_allowed.url + "/slow", json={}, timeout=0.3)

    @pytest.mark.parametrize("path", ["/drip-body", "/drip-headers"])
    def test_it_times_out_a_server_that_drips_bytes(self, remote_allowed: RemoteServer, path: str) -> None:
        with pytest.raises(OutboundTimeout):
            post_json(remote_allowed.url + path, json={}, timeout=1.0)

        # The timeout bounds the whole response: the call gave up while the server was still
        # dripping, although every single read got a byte long before any per-read timeout.
        assert path not in remote_allowed.drips_finished

    def test_it_reads_a_response_that_closes_the_connection(self, remote_allowed: RemoteServer) -> None:
        response = post_json(remote_allowed.url + "/close", json={}, timeout=2)

        assert response.json() == {"closed": True}

    def test_it_refuses_a_compressed_body(self, remote_allowed: RemoteServer) -> None:
        with pytest.raises(OutboundError):
            post_json(remote_allowed.url + "/gzip", json={}, timeout=2)

    def test_it_reports_a_refused_connection(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        with override_settings(OUTBOUND_ALLOWED_HOSTS=["127.0.0.1"]), pytest.raises(OutboundError) as caught:
            post_json(f"http://127.0.0.1:{closed_port}/", json={}, timeout=2)

        assert not isinstance(caught.value, OutboundTimeout)
        assert "refused" in str(caught.value)


class FakeDns:
    """Names of the `.test` domain answered from `answers`, each lookup recorded in `lookups`."""

    def __init__(self) -> None:
        self.answers: dict[str, list[str]] = {}
        self.lookups: list[str] = []


@pytest.fixture
def fake_dns(monkeypatch: pytest.MonkeyPatch) -> FakeDns:
    """No DNS server runs here: the resolver is the edge replaced, for `.test` names only."""
    dns = FakeDns()
    real = socket.getaddrinfo

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and host.endswith(".test"):
            dns.lookups.append(host)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port)) for address in dns.answers[host]]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return dns


class TestOutboundConnectionPool:
    def test_it_sends_successive_requests_over_one_kept_alive_connection(self, remote_allowed: RemoteServer) -> None:
        for number in range(5):
            assert post_json(remote_allowed.url + "/echo", json={"n": number}, timeout=2).json() == {
                "echo": {"n": number}
            }

        assert len(remote_allowed.peers) == 5
        assert len(set(remote_allowed.peers)) == 1

    def test_it_opens_a_new_connection_once_the_server_closed_one(self, remote_allowed: RemoteServer) -> None:
        post_json(remote_allowed.url + "/close", json={}, timeout=2)
        post_json(remote_allowed.url + "/echo", json={}, timeout=2)

        assert len(set(remote_allowed.peers)) == 2

    def test_it_resolves_and_checks_the_name_for_each_new_connection_only(
        self, remote_allowed: RemoteServer, fake_dns: FakeDns
    ) -> None:
        port = remote_allowed.server_address[1]
        fake_dns.answers["pooled.test"] = ["127.0.0.1"]
        with override_settings(OUTBOUND_ALLOWED_HOSTS=["pooled.test"]):
            post_json(f"http://pooled.test:{port}/echo", json={}, timeout=2)
            post_json(f"http://pooled.test:{port}/close", json={}, timeout=2)
            # The name now answers another address: the next connection goes there, not to the
            # address the closed connection was pinned to (the server listens on 127.0.0.1 only).
            fake_dns.answers["pooled.test"] = ["127.0.0.2"]
            with pytest.raises(OutboundError, match="refused"):
                post_json(f"http://pooled.test:{port}/echo", json={}, timeout=2)

        assert fake_dns.lookups == ["pooled.test", "pooled.test"]
        hits = [hit[:2] for hit in remote_allowed.hits]
        assert hits == [("/echo", f"pooled.test:{port}"), ("/close", f"pooled.test:{port}")]

    def test_it_refuses_a_new_connection_to_a_name_that_resolves_privately(
        self, fake_dns: FakeDns, no_connection: list[Any]
    ) -> None:
        fake_dns.answers["rebinding.test"] = ["10.1.2.3"]
        with pytest.raises(OutboundRefused):
            post_json("http://rebinding.test/echo", json={}, timeout=2)

        assert fake_dns.lookups == ["rebinding.test"]
        assert no_connection == []

    def test_it_never_reuses_a_connection_opened_under_a_policy_that_no_longer_holds(
        self, remote_allowed: RemoteServer, fake_dns: FakeDns
    ) -> None:
        port = remote_allowed.server_address[1]
        fake_dns.answers["policy.test"] = ["127.0.0.1"]
        with override_settings(OUTBOUND_ALLOWED_HOSTS=["policy.test"]):
            post_json(f"http://policy.test:{port}/echo", json={}, timeout=2)
        with override_settings(OUTBOUND_ALLOWED_HOSTS=[]), pytest.raises(OutboundRefused):
            post_json(f"http://policy.test:{port}/echo", json={}, timeout=2)

        assert len(remote_allowed.hits) == 1
