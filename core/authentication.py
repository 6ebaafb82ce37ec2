"""Who is calling the API: the one door, for every app.

A caller is one OAuth client of one active organisation, holding one valid access token. DRF
authenticates it once per request (`BearerAuthentication`, configured as the default class) and
every API reads it through `caller_of(request)`, whatever app it lives in. The token is checked by
django-oauth-toolkit's validator; which organisation operates a client is the organisations'
business, so the concrete class lives in `providers` and only implements `caller_for`. A token
whose client no longer belongs to an active organisation is not a valid token: 401 everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from oauth2_provider.models import AccessToken
from oauth2_provider.oauth2_backends import OAuthLibCore
from oauth2_provider.settings import oauth2_settings
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from core.errors import AuthenticationRequired


@dataclass(frozen=True)
class Caller:
    """The authenticated principal of an API request (DRF's `request.user`)."""

    client_id: str
    organisation_id: int
    organisation_siret: str
    # What the client is registered for, and what this token carries (a subset, at issue time).
    client_scopes: frozenset[str]
    token_scopes: frozenset[str]
    # None for work done later on a token's behalf (an asynchronous exchange run by a worker).
    access_token_id: int | None
    rate_limit_per_minute: int | None = None

    # DRF's IsAuthenticated and Django's templates read these on `request.user`.
    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False

    def has_scope(self, scope: str) -> bool:
        return scope in self.token_scopes


def caller_of(request: Request) -> Caller:
    """The caller of an API request; AuthenticationRequired (401) when there is none."""
    user = request.user
    if not isinstance(user, Caller):
        raise AuthenticationRequired()
    return user


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


class BearerAuthentication(OAuth2Authentication):
    """Bearer tokens in the Authorization header only (RFC 9700 §4.3.2): a token in the URL ends up
    in logs and browser history, so a request carrying one is refused even with a valid header.

    A request with a bearer header goes straight to the configured validator's
    `validate_bearer_token` (what oauthlib's resource endpoint would call after building a whole
    OAuth server for the request, which costs more than the check itself). Anything else, and any
    refusal, goes through DOT's full path, so the outcome and the WWW-Authenticate details are
    DOT's own. Subclasses say who the token's client acts for (`caller_for`).
    """

    def authenticate(self, request: Request) -> tuple[Caller, AccessToken] | None:
        if "access_token" in request.query_params:
            raise AuthenticationFailed("Send the access token in the Authorization header, never in the URL.")
        token = _header_bearer(request)
        access_token: Any = None
        if token:
            bearer = _BearerRequest(request)
            validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS()
            if validator.validate_bearer_token(token, [], bearer):
                access_token = bearer.access_token
        if access_token is None:
            found = super().authenticate(request)
            if found is None:
                return None
            access_token = found[1]
        caller = self.caller_for(access_token)
        if caller is None:
            raise AuthenticationFailed("This token's client is not registered for an active organisation.")
        return caller, access_token

    def caller_for(self, access_token: AccessToken) -> Caller | None:
        """The caller a valid token stands for, or None when its client may not call the API."""
        raise NotImplementedError
