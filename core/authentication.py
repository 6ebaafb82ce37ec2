"""The API's one authentication class."""

from __future__ import annotations

from typing import Any

from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauth2_provider.settings import oauth2_settings
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request


class _BearerRequest:
    """What DOT's `validate_bearer_token` reads and writes on oauthlib's request object: the
    request URI (for RFC 8707 audience checks, built only when a token is audience-restricted),
    and the client, user, scopes and access token it sets on success."""

    def __init__(self, request: Request) -> None:
        self._django_request = request._request
        self.client: Any = None
        self.user: Any = None
        self.scopes: list[str] = []
        self.access_token: Any = None

    @property
    def uri(self) -> str:
        # As DOT's OAuthLibCore.verify_request builds it.
        path = OAuthLibCore._get_escaped_full_path(None, self._django_request)
        return str(self._django_request.build_absolute_uri(path))


def _header_bearer(request: Request) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, read as oauthlib reads it."""
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(parts) == 2 and parts[0].lower() == "bearer":
        return str(parts[1])
    return None


class HeaderBearerAuthentication(OAuth2Authentication):
    """Bearer tokens in the Authorization header only (RFC 9700 §4.3.2): a token in the URL ends up
    in logs and browser history, so a request carrying one is refused even with a valid header.

    A request with a bearer header goes straight to the configured validator's
    `validate_bearer_token` (what oauthlib's resource endpoint would call after building a whole
    OAuth server for the request, which costs more than the check itself). Anything else, and any
    refusal, goes through DOT's full path, so the outcome and the WWW-Authenticate details are
    DOT's own.
    """

    def authenticate(self, request: Request) -> Any:
        if "access_token" in request.query_params:
            raise AuthenticationFailed("Send the access token in the Authorization header, never in the URL.")
        token = _header_bearer(request)
        if token:
            bearer = _BearerRequest(request)
            validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS()
            if validator.validate_bearer_token(token, [], bearer):
                return bearer.user, bearer.access_token
        return super().authenticate(request)
