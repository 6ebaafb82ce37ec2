"""The gateway as an OpenID Connect relying party: the providers citizens (FranceConnect,
FranceConnect+) and agents (ProConnect) log in with.

Built on Authlib's Django client, which does the protocol: discovery from the issuer's
`/.well-known/openid-configuration`, the authorization code flow with PKCE (S256), `state` and
`nonce` kept in the session, the code exchange, and the ID token's signature checked against the
provider's JWKS (fetched again when a token names a key it does not know: key rotation). This module
adds what a public service must check on top: the audience and issuer options Authlib leaves to the
caller, a signed userinfo (FranceConnect v2 answers a JWT, verified with the same keys), the same
`sub` in both, and one stable reason for every way a login can fail. Every request to a provider
goes through the outbound door (core.outbound) with a short timeout.

Providers are configured in `settings.OIDC_PROVIDERS` (gateway/settings.py), by name.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import requests
from authlib.integrations.base_client import MismatchingStateError, OAuthError
from authlib.integrations.django_client import DjangoOAuth2App, OAuth
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from django.conf import settings
from django.http import HttpRequest
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    InvalidKeyIdError,
    JoseError,
)
from joserfc.jwk import ECKey, KeySet, RSAKey
from joserfc.jws import JWSRegistry

from core.outbound_requests import outbound_session

# Tolerated clock difference with the provider, in seconds (exp, iat).
LEEWAY_SECONDS = 60


class LoginFailed(Exception):
    """A login that cannot go on. `reason` is one of REASONS: stable, recorded in the trail, and
    never personal data."""

    def __init__(self, reason: str) -> None:
        if reason not in REASONS:
            raise ValueError(f"unknown login failure reason {reason!r}")
        super().__init__(reason)
        self.reason = reason


REASONS = frozenset(
    {
        "not_configured",
        "cancelled",  # the person declined at the provider (access_denied)
        "provider_refused",  # any other error the provider sent back to the callback
        "state_mismatch",  # no login in this session was waiting for this answer
        "code_rejected",  # the provider refused the code (replayed, expired, PKCE mismatch)
        "bad_signature",
        "unknown_key",
        "wrong_issuer",
        "wrong_audience",
        "expired",
        "nonce_mismatch",
        "token_invalid",  # any other flaw in the ID token
        "userinfo_invalid",
        "acr_too_low",
        "identity_incomplete",
        "organisation_unknown",
        "provider_timeout",
        "provider_unreachable",
        "provider_error",
    }
)


@dataclass(frozen=True)
class Provider:
    """One configured OpenID provider."""

    name: str
    issuer: str
    client_id: str
    scopes: str
    client_secret: str = ""
    # A PEM private key file: the client authenticates with private_key_jwt instead of its secret.
    private_key_file: str = ""
    # eIDAS level -> the acr value this provider uses for it (FranceConnect: the level's name).
    acr_values: Mapping[str, str] = field(default_factory=dict)

    @property
    def levels(self) -> tuple[str, ...]:
        return tuple(sorted(self.acr_values))

    def level_of(self, acr: str) -> str:
        """The eIDAS level an acr value stands for, "" when it stands for none."""
        return next((level for level, value in self.acr_values.items() if value == acr), "")


@dataclass(frozen=True)
class VerifiedLogin:
    """What a provider vouched for, every check passed."""

    provider: str
    issuer: str
    subject: str
    acr: str
    # The ID token's claims, then the userinfo's (same `sub`).
    claims: Mapping[str, Any]
    id_token: str
    # What the login was started with (`authorization_redirect`'s `state_data`).
    state_data: Mapping[str, Any]


def provider(name: str) -> Provider | None:
    config: Mapping[str, Any] | None = settings.OIDC_PROVIDERS.get(name)
    if not config:
        return None
    acr_values = config.get("acr_values") or {}
    return Provider(
        name=name,
        issuer=str(config["issuer"]),
        client_id=str(config["client_id"]),
        scopes=str(config["scopes"]),
        client_secret=str(config.get("client_secret") or ""),
        private_key_file=str(config.get("private_key_file") or ""),
        acr_values={str(level): str(acr) for level, acr in dict(acr_values).items()},
    )


class _Session(OAuth2Session):
    """Authlib's requests session, sending through the outbound door."""

    def __init__(self, *args: Any, outbound_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, default_timeout=outbound_timeout, **kwargs)
        outbound_session(self, timeout=outbound_timeout)


class _App(DjangoOAuth2App):
    client_cls = _Session


@cache
def _registry(name: str, issuer: str, client_id: str, secret: str, key_file: str, scopes: str, timeout: float) -> _App:
    # One client per configuration (tests change it): Authlib caches the discovery document and
    # the keys on the client, for the life of the process.
    client_kwargs: dict[str, Any] = {
        "scope": scopes,
        "code_challenge_method": "S256",
        "outbound_timeout": timeout,
    }
    auth_methods = None
    client_secret: Any = secret
    if key_file:
        key_pem = Path(key_file).read_bytes()
        key: ECKey | RSAKey
        try:
            key = ECKey.import_key(key_pem)
            alg = "ES256"
        except (JoseError, ValueError):
            key = RSAKey.import_key(key_pem)
            alg = "RS256"
        client_secret = key
        client_kwargs["token_endpoint_auth_method"] = "private_key_jwt"
        auth_methods = [PrivateKeyJWT(alg=alg)]
    else:
        client_kwargs["token_endpoint_auth_method"] = "client_secret_post"
    oauth = OAuth()
    return oauth.register(
        name,
        client_cls=_App,
        client_id=client_id,
        client_secret=client_secret,
        server_metadata_url=issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_kwargs=client_kwargs,
        client_auth_methods=auth_methods,
    )


def _client(config: Provider) -> _App:
    return _registry(
        config.name,
        config.issuer,
        config.client_id,
        config.client_secret,
        config.private_key_file,
        config.scopes,
        float(settings.OIDC_TIMEOUT_SECONDS),
    )


def _metadata(app: _App, config: Provider) -> dict[str, Any]:
    metadata: dict[str, Any] = app.load_server_metadata()
    # OpenID Connect Discovery 1.0, section 4.3: the document must name the issuer we asked.
    if metadata.get("issuer") != config.issuer:
        raise LoginFailed("provider_error")
    return metadata


def authorization_url(
    request: HttpRequest,
    config: Provider,
    *,
    redirect_uri: str,
    acr_values: str = "",
    state_data: Mapping[str, Any] | None = None,
) -> str:
    """Where to send the browser to log in; `state_data` comes back with the verified login."""
    app = _client(config)
    with _failures():
        _metadata(app, config)
        extra = {"acr_values": acr_values} if acr_values else {}
        authorization = app.create_authorization_url(redirect_uri, **extra)
    app.save_authorize_data(request, redirect_uri=redirect_uri, gateway=dict(state_data or {}), **authorization)
    return str(authorization["url"])


def authorization_complete(request: HttpRequest, config: Provider) -> VerifiedLogin:
    """Checks the provider's answer on the callback; raises LoginFailed."""
    app = _client(config)
    error = request.GET.get("error")
    if error:
        raise LoginFailed("cancelled" if error == "access_denied" else "provider_refused")
    # RFC 9207: a provider that names itself in the answer must be the one the login went to.
    if "iss" in request.GET and request.GET["iss"] != config.issuer:
        raise LoginFailed("wrong_issuer")
    state = request.GET.get("state", "")
    pending = app.framework.get_state_data(request.session, state) if state else None
    with _failures():
        metadata = _metadata(app, config)
        token = app.authorize_access_token(
            request,
            leeway=LEEWAY_SECONDS,
            claims_options={
                # Authlib checks the issuer, not the audience, unless told: both, always.
                "iss": {"essential": True, "value": config.issuer},
                "aud": {"essential": True, "value": config.client_id},
            },
        )
        id_claims = token.get("userinfo")
        if not id_claims or not isinstance(token.get("id_token"), str):
            # No ID token: nothing was vouched for (and no nonce was checked).
            raise LoginFailed("token_invalid")
        subject = str(id_claims["sub"])
        userinfo = _userinfo(app, config, metadata, token, subject=subject)
    return VerifiedLogin(
        provider=config.name,
        issuer=config.issuer,
        subject=subject,
        acr=str(id_claims.get("acr", "")),
        claims={**userinfo, **dict(id_claims)},
        id_token=token["id_token"],
        state_data=(pending or {}).get("gateway", {}),
    )


def _userinfo(
    app: _App, config: Provider, metadata: Mapping[str, Any], token: Mapping[str, Any], *, subject: str
) -> dict[str, Any]:
    endpoint = metadata.get("userinfo_endpoint")
    if not endpoint:
        return {}
    response = app.get(endpoint, token=dict(token))
    if response.status_code != 200:
        raise LoginFailed("userinfo_invalid")
    content_type = response.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type == "application/jwt":
        claims = _verified_jwt(app, config, metadata, response.text)
    else:
        try:
            claims = response.json()
        except ValueError:
            raise LoginFailed("userinfo_invalid") from None
    # OpenID Connect Core 1.0, section 5.3.2: the userinfo is about the ID token's subject or
    # about nobody we may use.
    if not isinstance(claims, dict) or claims.get("sub") != subject:
        raise LoginFailed("userinfo_invalid")
    return claims


def _verified_jwt(app: _App, config: Provider, metadata: Mapping[str, Any], value: str) -> dict[str, Any]:
    supported = metadata.get("userinfo_signing_alg_values_supported") or metadata.get(
        "id_token_signing_alg_values_supported"
    )
    algorithms = [alg for alg in supported or ("ES256", "RS256") if alg != "none"]
    registry = JWSRegistry(algorithms=algorithms, strict_check_header=False)
    try:
        decoded = jwt.decode(value, KeySet.import_key_set(app.fetch_jwk_set()), registry=registry)
    except InvalidKeyIdError:
        decoded = jwt.decode(value, KeySet.import_key_set(app.fetch_jwk_set(force=True)), registry=registry)
    claims = dict(decoded.claims)
    # A signed userinfo carries iss and aud (OpenID Connect Core 1.0, section 5.3.2).
    jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": config.issuer}, aud={"essential": True, "value": config.client_id}
    ).validate(claims)
    return claims


def logout_url(request: HttpRequest, config: Provider, *, id_token: str, post_logout_redirect_uri: str) -> str | None:
    """The provider's end_session_endpoint with `id_token_hint`, `state` (kept in the session) and
    `post_logout_redirect_uri`; None when the provider offers none or cannot be reached."""
    app = _client(config)
    try:
        metadata = _metadata(app, config)
    except (LoginFailed, requests.RequestException, ValueError):
        return None
    if not metadata.get("end_session_endpoint"):
        return None
    state = secrets.token_urlsafe(24)
    result = app.create_logout_url(
        post_logout_redirect_uri=post_logout_redirect_uri, id_token_hint=id_token, state=state
    )
    app.framework.set_state_data(request.session, state, {"post_logout_redirect_uri": post_logout_redirect_uri})
    return str(result["url"])


def logout_complete(request: HttpRequest, config: Provider) -> bool:
    """Whether the provider's return from logout carries the `state` this session sent."""
    try:
        _client(config).validate_logout_response(request)
    except OAuthError:
        return False
    return True


@contextmanager
def _failures() -> Iterator[None]:
    """Turns what Authlib, joserfc and the transport raise into LoginFailed reasons."""
    try:
        yield
    except LoginFailed:
        raise
    except Exception as error:
        reason = failure_reason(error)
        if reason is None:
            raise
        raise LoginFailed(reason) from error


def failure_reason(error: BaseException) -> str | None:
    if isinstance(error, MismatchingStateError):
        return "state_mismatch"
    if isinstance(error, OAuthError):
        # From the token endpoint: the callback's own errors are handled before.
        return "code_rejected"
    if isinstance(error, requests.Timeout):
        return "provider_timeout"
    if isinstance(error, requests.ConnectionError):
        return "provider_unreachable"
    if isinstance(error, requests.RequestException | ValueError):
        # An HTTP error status or a body that is not JSON, from discovery or the keys.
        return "provider_error"
    if isinstance(error, BadSignatureError):
        return "bad_signature"
    if isinstance(error, InvalidKeyIdError):
        return "unknown_key"
    if isinstance(error, ExpiredTokenError):
        return "expired"
    if isinstance(error, ClaimError):
        return {"aud": "wrong_audience", "azp": "wrong_audience", "iss": "wrong_issuer", "nonce": "nonce_mismatch"}.get(
            error.claim, "token_invalid"
        )
    if isinstance(error, JoseError):
        return "token_invalid"
    return None
