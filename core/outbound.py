"""The project's single door to the outside world over HTTP.

Every call to a provider (or any other server) goes through `post_json` (or `post`, for a body
already serialised, or `request` for another method: the OpenID providers' discovery, keys and
userinfo are GETs), which enforces what a gateway holding citizens' data owes its network: a
mandatory timeout (for the whole exchange, not per socket read), a response size cap read as a
stream, no redirects, http(s) only, and no requests to private, loopback, link-local or reserved
addresses unless the host is explicitly listed in `settings.OUTBOUND_ALLOWED_HOSTS` (server-side
request forgery).

Connections are kept alive and reused, in one pool per provider host (HTTP/1.1 keep-alive): an
exchange does not pay a TCP (and TLS) handshake per call. The checks hold on every connection:
each new connection resolves the name, checks every address it resolves to, and connects to the
very address it checked, so a DNS answer that changes between the check and the connection (DNS
rebinding) gains nothing; a reused connection stays pinned to the address checked when it was
opened. A pool serves only requests made under the same address policy (a host allowed to resolve
privately has its own pool), so a policy change never rides on an old connection.

Bodies are never logged: they carry personal data.
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import json as jsonlib
import logging
import socket
import threading
import time
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import urllib3
import urllib3.connection
from django.conf import settings
from urllib3.exceptions import ConnectTimeoutError, HTTPError, MaxRetryError, NewConnectionError, ReadTimeoutError
from urllib3.exceptions import TimeoutError as Urllib3TimeoutError

logger = logging.getLogger(__name__)

USER_AGENT = "dites-le-nous-une-fois-gateway/1.0"
CHUNK_BYTES = 64 * 1024
# Connection pools kept per (scheme, address, port, host name); enough for a few dozen providers.
MAX_POOLS = 64
POOL_MAXSIZE = 16

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class OutboundError(Exception):
    """The request did not produce a usable response. Messages never quote the remote body."""


class OutboundRefused(OutboundError):
    """Refused by policy before any connection was attempted."""


class OutboundTimeout(OutboundError):
    """No complete response within the timeout."""


class OutboundTooLarge(OutboundError):
    """The response body exceeded the size cap; reading stopped there."""


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes
    duration_ms: int

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    def json(self) -> Any:
        """The body as JSON; raises OutboundError (without quoting the body) when it is not."""
        try:
            return jsonlib.loads(self.body)
        except (UnicodeDecodeError, ValueError):
            raise OutboundError("The response body is not valid JSON.") from None

    def json_or_none(self) -> Any:
        try:
            return self.json()
        except OutboundError:
            return None


def address_is_public(address: IPAddress) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    # is_global is False for private, loopback, link-local, shared (100.64/10), reserved and
    # unspecified ranges; multicast is never a provider.
    return address.is_global and not address.is_multicast


def host_is_allowed(host: str) -> bool:
    allowed = {entry.strip().lower().rstrip(".") for entry in settings.OUTBOUND_ALLOWED_HOSTS}
    return host.lower().rstrip(".") in allowed


def _refuse_private_literal(host: str) -> None:
    """An address written in the URL is refused before any pool or connection is touched."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return
    if not address_is_public(literal):
        raise OutboundRefused("The host resolves to a non-public address and is not in OUTBOUND_ALLOWED_HOSTS.")


def resolve(host: str, port: int, *, allow_private: bool) -> IPAddress:
    """The address to connect to, after checking every address the name resolves to."""
    try:
        literal: IPAddress | None = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if literal is not None:
        addresses = [literal]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            raise OutboundError("The host name does not resolve.") from None
        addresses = [ipaddress.ip_address(str(info[4][0]).split("%", 1)[0]) for info in infos]
        if not addresses:
            raise OutboundError("The host name does not resolve.")
    # One private answer taints the name: an attacker controlling its DNS could return a public
    # and a private address and let the connection pick the private one.
    tainted = any(not address_is_public(address) for address in addresses)
    if tainted and not allow_private and not host_is_allowed(host):
        raise OutboundRefused("The host resolves to a non-public address and is not in OUTBOUND_ALLOWED_HOSTS.")
    return addresses[0]


# The monotonic deadline of the request this thread is making, read by the response's socket.
_deadline: ContextVar[float | None] = ContextVar("outbound_deadline", default=None)
MIN_RECV_TIMEOUT = 0.01


class _DeadlineReader(io.RawIOBase):
    """The socket as the response reads it: every receive may wait only for the time left.

    A per-read socket timeout alone lets a server that drips one byte at a time (in the headers
    or the body) keep the request going for as long as it likes; this bounds the whole response.
    It wraps the socket's own SocketIO, which keeps the socket open while the response reads it
    even after http.client closes the connection (a `Connection: close` response).
    """

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock = sock
        self._raw = sock.makefile("rb", buffering=0)
        self._deadline = deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("outbound deadline passed")
        self._sock.settimeout(max(MIN_RECV_TIMEOUT, left))
        return self._raw.readinto(buffer)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _DeadlineSocket:
    """Just what http.client.HTTPResponse uses of its socket: makefile("rb")."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self._sock = sock
        self._deadline = deadline

    def makefile(self, mode: str = "rb", *args: Any, **kwargs: Any) -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self._sock, self._deadline))


class _DeadlineResponse(http.client.HTTPResponse):
    def __init__(
        self, sock: socket.socket, debuglevel: int = 0, method: str | None = None, url: str | None = None
    ) -> None:
        deadline = _deadline.get()
        reader: Any = sock if deadline is None else _DeadlineSocket(sock, deadline)
        super().__init__(reader, debuglevel, method, url)


class _PinnedConnection(urllib3.connection.HTTPConnection):
    """Resolves and checks the host for each new connection, then connects to the checked address.

    `host` stays the provider's name (the Host header, SNI and certificate check use it); only the
    address the socket connects to is replaced.
    """

    response_class = _DeadlineResponse
    allow_private = False

    def _new_conn(self) -> socket.socket:
        name = self._dns_host
        address = resolve(name, self.port, allow_private=self.allow_private)
        # Only for the socket's connect: afterwards `host` is the name again, for TLS and the next
        # connection this object opens (urllib3 reopens a closed connection object).
        self._dns_host = str(address)
        try:
            return super()._new_conn()
        finally:
            self._dns_host = name


class _PinnedHTTPSConnection(_PinnedConnection, urllib3.connection.HTTPSConnection):
    pass


class _PrivateAllowedConnection(_PinnedConnection):
    allow_private = True


class _PrivateAllowedHTTPSConnection(_PinnedHTTPSConnection):
    allow_private = True


_pools: dict[tuple[str, str, int, bool], urllib3.HTTPConnectionPool] = {}
_pools_lock = threading.Lock()


def _pool(scheme: str, host: str, port: int, *, allow_private: bool) -> urllib3.HTTPConnectionPool:
    key = (scheme, host.lower(), port, allow_private)
    with _pools_lock:
        pool = _pools.get(key)
        if pool is not None:
            return pool
        if len(_pools) >= MAX_POOLS:
            _pools.pop(next(iter(_pools))).close()
        pool_class: type[urllib3.HTTPConnectionPool]
        if scheme == "https":
            pool_class = urllib3.HTTPSConnectionPool
            connection_class: type[_PinnedConnection] = (
                _PrivateAllowedHTTPSConnection if allow_private else _PinnedHTTPSConnection
            )
        else:
            pool_class = urllib3.HTTPConnectionPool
            connection_class = _PrivateAllowedConnection if allow_private else _PinnedConnection
        extra: dict[str, Any] = {"cert_reqs": "CERT_REQUIRED"} if scheme == "https" else {}
        pool = pool_class(host, port, maxsize=POOL_MAXSIZE, block=False, **extra)
        pool.ConnectionCls = connection_class
        _pools[key] = pool
        return pool


def post_json(
    url: str,
    *,
    json: Any,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    max_bytes: int | None = None,
    allow_private: bool = False,
) -> OutboundResponse:
    """POSTs `json` to `url` and returns the response, whatever its status (3xx are not followed).

    `timeout` (seconds) bounds connecting plus reading the whole body. Raises OutboundRefused,
    OutboundTimeout, OutboundTooLarge or OutboundError.
    """
    body = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":")).encode()
    return post(url, body=body, timeout=timeout, headers=headers, max_bytes=max_bytes, allow_private=allow_private)


def post(
    url: str,
    *,
    body: bytes,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    max_bytes: int | None = None,
    allow_private: bool = False,
) -> OutboundResponse:
    """post_json for a body already serialised (JSON unless `headers` set another Content-Type),
    for callers that sign the exact bytes they send."""
    json_headers = {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})}
    return request(
        "POST", url, body=body, timeout=timeout, headers=json_headers, max_bytes=max_bytes, allow_private=allow_private
    )


def request(
    method: str,
    url: str,
    *,
    body: bytes | None = None,
    timeout: float,
    headers: Mapping[str, str] | None = None,
    max_bytes: int | None = None,
    allow_private: bool = False,
) -> OutboundResponse:
    """Sends one request under the rules above and returns the response, whatever its status (3xx
    are not followed). Raises OutboundRefused, OutboundTimeout, OutboundTooLarge or OutboundError."""
    if not timeout or timeout <= 0:
        raise ValueError("a positive timeout is mandatory")
    cap = settings.OUTBOUND_MAX_RESPONSE_BYTES if max_bytes is None else max_bytes
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise OutboundRefused("Only http and https URLs are allowed.")
    try:
        host, port = parts.hostname, parts.port
    except ValueError:
        raise OutboundRefused("The URL's port is not valid.") from None
    if not host or parts.username is not None or parts.password is not None:
        raise OutboundRefused("The URL needs a host and must not carry credentials.")
    port = port or (443 if scheme == "https" else 80)
    # Decided per request, so that a pool (and its live connections) serves one policy only.
    private_allowed = allow_private or host_is_allowed(host)
    if not private_allowed:
        _refuse_private_literal(host)

    netloc_host = f"[{host}]" if ":" in host else host
    default_port = port == (443 if scheme == "https" else 80)
    request_headers = {
        "User-Agent": USER_AGENT,
        **(headers or {}),
        "Host": netloc_host if default_port else f"{netloc_host}:{port}",
        # Compressed bodies would defeat the size cap (a small body can inflate a thousandfold).
        "Accept-Encoding": "identity",
    }
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query

    started = time.monotonic()
    deadline = started + timeout
    pool = _pool(scheme, host, port, allow_private=private_allowed)
    deadline_token = _deadline.set(deadline)
    try:
        return _exchange(
            pool, method, path, body, request_headers, timeout=timeout, cap=cap, started=started, host=host
        )
    finally:
        _deadline.reset(deadline_token)


def _exchange(
    pool: urllib3.HTTPConnectionPool,
    method: str,
    path: str,
    body: bytes | None,
    request_headers: Mapping[str, str],
    *,
    timeout: float,
    cap: int,
    started: float,
    host: str,
) -> OutboundResponse:
    deadline = started + timeout
    try:
        response = pool.urlopen(
            method,
            path,
            body=body,
            headers=request_headers,
            retries=False,
            redirect=False,
            assert_same_host=False,
            timeout=urllib3.Timeout(total=timeout),
            preload_content=False,
            decode_content=False,
        )
    except NewConnectionError as exc:
        # Checked first: urllib3 makes NewConnectionError a subclass of ConnectTimeoutError.
        raise OutboundError(_connection_failure(exc)) from None
    except (ConnectTimeoutError, ReadTimeoutError, Urllib3TimeoutError):
        raise OutboundTimeout("The server did not answer in time.") from None
    except MaxRetryError as exc:
        if isinstance(exc.reason, NewConnectionError):
            raise OutboundError(_connection_failure(exc.reason)) from None
        if isinstance(exc.reason, ConnectTimeoutError | ReadTimeoutError | Urllib3TimeoutError):
            raise OutboundTimeout("The server did not answer in time.") from None
        raise OutboundError("The connection failed.") from None
    except (HTTPError, OSError) as exc:
        raise OutboundError(f"The request failed ({type(exc).__name__}).") from None

    try:
        content = _read_capped(response, cap=cap, deadline=deadline)
    finally:
        response.release_conn()
    duration_ms = int((time.monotonic() - started) * 1000)
    logger.info("outbound %s %s -> %s in %sms (%s bytes)", method, host, response.status, duration_ms, len(content))
    return OutboundResponse(
        status=response.status,
        headers={name.lower(): value for name, value in response.headers.items()},
        body=content,
        duration_ms=duration_ms,
    )


def _connection_failure(reason: BaseException | None) -> str:
    if isinstance(reason, NewConnectionError) and isinstance(reason.__cause__, ConnectionRefusedError):
        return "The connection was refused."
    return "The connection failed."


def _read_capped(response: urllib3.BaseHTTPResponse, *, cap: int, deadline: float) -> bytes:
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in {"", "identity"}:
        response.drain_conn()
        raise OutboundError("The server sent a compressed body although identity was asked for.")
    declared = response.headers.get("Content-Length")
    if declared is not None and declared.strip().isdigit() and int(declared) > cap:
        # Do not read what we will throw away; the connection cannot be reused mid-body.
        response.close()
        raise OutboundTooLarge(f"The response body exceeds {cap} bytes.")
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            if time.monotonic() > deadline:
                response.close()
                raise OutboundTimeout("The server did not send the whole body in time.")
            # read1: what one receive brings (each bounded by the time left), not a full chunk.
            chunk = response.read1(min(CHUNK_BYTES, cap + 1 - size))
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > cap:
                response.close()
                raise OutboundTooLarge(f"The response body exceeds {cap} bytes.")
    except (TimeoutError, ReadTimeoutError, Urllib3TimeoutError):
        response.close()
        raise OutboundTimeout("The server did not send the whole body in time.") from None
    except (HTTPError, OSError) as exc:
        response.close()
        raise OutboundError(f"The response could not be read ({type(exc).__name__}).") from None
    return b"".join(chunks)
