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

from core.dpop import DpopRefused, dpop_nonce, dpop_proof_check
from core.errors import AuthenticationRequired, InvalidDpopProof, UseDpopNonce


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
    # Attestations to this client: "" in clear, "registered" encrypted when it has a `use: enc` key
    # (inline or at its jwks_uri), "required" encrypted or not at all.
    attestation_encryption: str = ""

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


def _header_token(request: Request) -> tuple[str, str] | None:
    """The scheme (lower case) and token of an `Authorization: Bearer|DPoP <token>` header, read
    as oauthlib reads it."""
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(parts) == 2 and parts[0].lower() in ("bearer", "dpop"):
        return parts[0].lower(), str(parts[1])
    return None


class BearerAuthentication(OAuth2Authentication):
    """Bearer tokens in the Authorization header only (RFC 9700 §4.3.2): a token in the URL ends up
    in logs and browser history, so a request carrying one is refused even with a valid header.

    A token bound to a DPoP key (the validator sets its `dpop_jkt`) comes with the `DPoP` scheme
    and a proof by that key (`core.dpop`), never as a bearer; a refused proof is 401
    `invalid_dpop_proof`, or `use_dpop_nonce` with the nonce to use.

    A request with a bearer header goes straight to the configured validator's
    `validate_bearer_token` (what oauthlib's resource endpoint would call after building a whole
    OAuth server for the request, which costs more than the check itself). Anything else, and any
    refusal, goes through DOT's full path, so the outcome and the WWW-Authenticate details are
    DOT's own. Subclasses say who the token's client acts for (`caller_for`).
    """

    def authenticate(self, request: Request) -> tuple[Caller, AccessToken] | None:
        if "access_token" in request.query_params:
            raise AuthenticationFailed("Send the access token in the Authorization header, never in the URL.")
        presented = _header_token(request)
        if presented is not None and presented[0] == "dpop":
            access_token = self._dpop_token(request, presented[1])
        else:
            access_token = self._bearer_token(request, presented[1] if presented else None)
            if access_token is None:
                return None
            if getattr(access_token, "dpop_jkt", None):
                # RFC 9449 §7.2: a token bound to a key is no bearer token.
                self.refusal_record(endpoint=request.path, reason="bearer_use_of_dpop_token", access_token=access_token)
                raise InvalidDpopProof("This token is bound to a key: send it with the DPoP scheme and a proof.")
        caller = self.caller_for(access_token)
        if caller is None:
            raise AuthenticationFailed("This token's client is not registered for an active organisation.")
        return caller, access_token

    def _bearer_token(self, request: Request, token: str | None) -> AccessToken | None:
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
        return access_token

    def _dpop_token(self, request: Request, token: str) -> AccessToken:
        """A DPoP-bound token with its proof (RFC 9449 §7.1): the token is looked up, the proof
        checked (its jti spent even when the token is not valid), then that the proof's key is the
        one the token is bound to. Refusals are recorded for valid tokens only: the API has no rate
        limit before authentication, and a stranger's garbage must not fill the trail."""
        bearer = _BearerRequest(request)
        validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS()
        valid = validator.validate_bearer_token(token, [], bearer)
        access_token = bearer.access_token if valid else None
        try:
            proof = dpop_proof_check(
                request.META.get("HTTP_DPOP"),
                method=request.method or "",
                url=request._request.build_absolute_uri(request.path),
                access_token=token,
            )
        except DpopRefused as refused:
            if access_token is not None:
                self.refusal_record(endpoint=request.path, reason=refused.reason, access_token=access_token)
            if refused.error == "use_dpop_nonce":
                raise UseDpopNonce(nonce=dpop_nonce()) from None
            raise InvalidDpopProof(f"DPoP proof refused: {refused.reason}.") from None
        if access_token is None:
            raise AuthenticationFailed("The access token is not valid.")
        if proof.jkt != getattr(access_token, "dpop_jkt", None):
            reason = "token_not_bound" if not getattr(access_token, "dpop_jkt", None) else "key_mismatch"
            self.refusal_record(endpoint=request.path, reason=reason, access_token=access_token)
            raise InvalidDpopProof("The DPoP proof is not signed by the key this token is bound to.")
        return access_token

    def refusal_record(self, *, endpoint: str, reason: str, access_token: AccessToken) -> None:
        """Records a refused DPoP use of a valid token (the concrete class writes the trail)."""

    def caller_for(self, access_token: AccessToken) -> Caller | None:
        """The caller a valid token stands for, or None when its client may not call the API."""
        raise NotImplementedError
