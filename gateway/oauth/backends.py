"""DOT's bridge from a Django request to oauthlib's, telling the validator what oauthlib's request
cannot: the issuer identifier (a client assertion's audience) and the absolute URL of the endpoint
(a DPoP proof's `htu`). Both go in as META-style keys no client can send: a client's headers
reach META only as HTTP_*."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauth2_provider.settings import oauth2_settings

ISSUER_KEY = "GATEWAY_ISSUER"
URL_KEY = "GATEWAY_URL"


class GatewayOAuthLibCore(OAuthLibCore):
    def extract_headers(self, request: HttpRequest) -> dict[str, Any]:
        headers: dict[str, Any] = super().extract_headers(request)
        headers[ISSUER_KEY] = oauth2_settings.oauth2_authorization_server_issuer(request)
        headers[URL_KEY] = request.build_absolute_uri(request.path)
        return headers
