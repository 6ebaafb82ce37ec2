"""A transport for libraries that speak `requests` (Authlib's OpenID Connect client): every request
they send goes through the outbound door (core.outbound), with its timeout, size cap, refusal of
redirects and of private addresses. Mounted on a `requests.Session`, it replaces the network:
nothing the library sends bypasses the door.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from core import outbound

# Hop-by-hop and framing headers are the door's business, and requests' default
# `Accept-Encoding: gzip` would defeat the size cap.
_DROPPED_HEADERS = {"host", "accept-encoding", "connection", "content-length", "transfer-encoding"}


class OutboundAdapter(BaseAdapter):
    def __init__(self, *, timeout: float) -> None:
        super().__init__()
        self.timeout = timeout

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        # Authlib sends form bodies and no streams: bytes or text.
        body = request.body.encode() if isinstance(request.body, str) else request.body
        if body is not None and not isinstance(body, bytes):
            raise TypeError("the outbound door sends bodies of bytes only")
        headers = {
            name: value if isinstance(value, str) else value.decode("latin-1")
            for name, value in request.headers.items()
            if name.lower() not in _DROPPED_HEADERS
        }
        try:
            answer = outbound.request(
                request.method or "GET",
                request.url or "",
                body=body if body else None,
                # The session's timeout may only shorten the door's.
                timeout=min(self.timeout, _seconds(timeout) or self.timeout),
                headers=headers,
            )
        except outbound.OutboundTimeout as exc:
            raise requests.Timeout(str(exc), request=request) from None
        except outbound.OutboundError as exc:
            raise requests.ConnectionError(str(exc), request=request) from None
        response = requests.Response()
        response.status_code = answer.status
        response.headers = CaseInsensitiveDict(answer.headers)
        response._content = answer.body
        response.url = request.url or ""
        response.request = request
        response.encoding = requests.utils.get_encoding_from_headers(response.headers)
        response.reason = ""
        return response

    def close(self) -> None:
        # The door's connection pools outlive any one session.
        pass


def _seconds(timeout: Any) -> float | None:
    if isinstance(timeout, tuple):
        # requests' (connect, read): the door bounds the whole exchange, so their sum.
        return sum(part for part in timeout if part) or None
    return float(timeout) if timeout else None


def outbound_session(session: requests.Session, *, timeout: float) -> requests.Session:
    """`session` with every request going through the outbound door."""
    adapter = OutboundAdapter(timeout=timeout)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session
