"""The endpoints where OAuth clients authenticate: token (RFC 6749 §3.2), revocation (RFC 7009)
and introspection (RFC 7662).

Each request first counts against the client id it names and the address it comes from (one Redis
call each; over either limit, 429 before anything else runs), and a failed client authentication
answers with the HTTP Basic challenge RFC 6749 §5.2 asks for, where oauthlib sends a Bearer one.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.response import HttpResponseBase
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import RevokeTokenView, TokenView
from oauth2_provider.views.mixins import OAuthLibMixin

from core.jose import sign_jws, unverified_jwt
from core.ratelimit import ratelimit_count, source_address
from gateway.oauth.backends import GatewayOAuthLibCore
from gateway.oauth.inputs import presented_credentials

BASIC_CHALLENGE = 'Basic realm="oauth", charset="UTF-8"'
# RFC 9701 §4: the media type a client accepts to get a signed introspection response.
INTROSPECTION_JWT = "token-introspection+jwt"
INTROSPECTION_MEDIA_TYPE = "application/" + INTROSPECTION_JWT


def oauth_error(status: int, description: str) -> JsonResponse:
    """An error in the shape OAuth clients parse (RFC 6749 §5.2), never cached."""
    response = JsonResponse({"error": "invalid_request", "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def _client_key(client_id: str) -> str:
    # Any string a client sends, NUL and over-long ones included, makes a short key.
    return hashlib.sha256(client_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def rate_limited(request: HttpRequest) -> int | None:
    """Counts the request against its source address and the client id it names (authenticated
    or not: wrong secrets spend the quota too); the seconds to wait when over either limit."""
    waits = [
        ratelimit_count(key=f"oauth-address:{source_address(request)}", limit=settings.OAUTH_RATE_LIMIT_PER_ADDRESS)
    ]
    credentials = presented_credentials(
        authorization=request.META.get("HTTP_AUTHORIZATION"),
        client_id=request.POST.get("client_id"),
        client_secret=None,
    )
    if credentials is not None:
        key = f"oauth-client:{_client_key(credentials.client_id)}"
        waits.append(ratelimit_count(key=key, limit=settings.OAUTH_RATE_LIMIT_PER_CLIENT))
    return max((wait for wait in waits if wait is not None), default=None)


class ClientEndpoint(OAuthLibMixin, View):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        wait = rate_limited(request)
        if wait is not None:
            # RFC 6749 has no error code for this: the status (RFC 6585 §4) and Retry-After say it,
            # the body keeps the shape every OAuth client reads.
            refusal = oauth_error(429, f"Too many requests for this client or from this address; retry in {wait} s.")
            refusal["Retry-After"] = str(wait)
            return refusal
        response = super().dispatch(request, *args, **kwargs)
        if response.status_code == 401:
            response["WWW-Authenticate"] = BASIC_CHALLENGE
        if (
            isinstance(response, HttpResponse)
            and response.content
            and response["Content-Type"] not in ("application/json", INTROSPECTION_MEDIA_TYPE)
        ):
            # An error oauthlib raises before a grant runs (a query string on a POST, say) comes
            # with no content type of its own: every body these endpoints send is JSON.
            response["Content-Type"] = "application/json"
        return response

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # In OAuth's error format, as every other answer of these endpoints (Django's own is an
        # empty text/html body).
        response = oauth_error(405, "This endpoint takes a POST request.")
        response["Allow"] = ", ".join(self._allowed_methods())
        return response


@method_decorator(csrf_exempt, name="dispatch")
class GatewayTokenView(ClientEndpoint, TokenView):
    """`/oauth/token/`: DOT answers the device-code grant before oauthlib sees the request; the
    gateway has no device flow, so every grant type goes to the (narrowed) oauthlib server."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.authorization_flow_token_response(request)


@method_decorator(csrf_exempt, name="dispatch")
class GatewayRevokeTokenView(ClientEndpoint, RevokeTokenView):
    """`/oauth/revoke_token/` (RFC 7009): a client revokes its own tokens."""


class IntrospectionCore(GatewayOAuthLibCore):
    """DOT's bridge to oauthlib, with the introspection endpoint DOT's own view does not use."""

    def create_introspect_response(self, request: HttpRequest) -> tuple[dict[str, str], str, int]:
        uri, http_method, body, headers = self._extract_params(request)
        response: tuple[dict[str, str], str, int] = self.server.create_introspect_response(
            uri, http_method, body, headers
        )
        return response


@method_decorator(csrf_exempt, name="dispatch")
class GatewayIntrospectView(ClientEndpoint):
    """`/oauth/introspect/` (RFC 7662) through oauthlib's endpoint and the validator's
    `introspect_token`. POST only (§2.1): a token in a URL ends up in logs. The caller authenticates
    as a client; a bearer token with an `introspection` scope (DOT's view) is not accepted."""

    http_method_names = ["post"]
    oauthlib_backend_class = IntrospectionCore

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        core = self.get_oauthlib_core()
        assert isinstance(core, IntrospectionCore)
        headers, body, status = core.create_introspect_response(request)
        if status == 200 and INTROSPECTION_MEDIA_TYPE in request.headers.get("Accept", ""):
            return self._signed(request, body)
        response = HttpResponse(body, status=status)
        for name, value in headers.items():
            response[name] = value
        return response

    def _signed(self, request: HttpRequest, body: str) -> HttpResponse:
        """RFC 9701: the answer as a JWT the gateway signs, for the client that asked (`aud`), so a
        provider can keep it as proof of who asked for its data and under which token."""
        issuer = oauth2_settings.oauth2_authorization_server_issuer(request)
        credentials = presented_credentials(
            authorization=request.headers.get("Authorization"),
            client_id=request.POST.get("client_id"),
            client_secret=None,
        )
        audience = credentials.client_id if credentials is not None else ""
        if not audience and request.POST.get("client_assertion"):
            audience = str(unverified_jwt(request.POST["client_assertion"])[1].get("sub") or "")
        claims = {
            "iss": issuer,
            "aud": audience,
            "iat": int(time.time()),
            "token_introspection": json.loads(body),
        }
        response = HttpResponse(sign_jws(claims, typ=INTROSPECTION_JWT), content_type=INTROSPECTION_MEDIA_TYPE)
        response["Cache-Control"] = "no-store"
        return response

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = oauth_error(405, "Introspection takes a POST request (RFC 7662 §2.1).")
        response["Allow"] = "POST"
        return response
