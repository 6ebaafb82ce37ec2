"""The gateway's OAuth2Validator: django-oauth-toolkit's, with the gateway's rules on top.

- only confidential clients linked to an active organisation (ApiClient) exist for the server,
  and never one with `skip_authorization` (the citizen always sees the consent screen); a client
  id or secret the database could not hold is no client's (`gateway.oauth.inputs`);
- a client authenticates the way it is registered for: with a JWT signed by one of its keys
  (`private_key_jwt`, RFC 7523: `gateway.oauth.assertions`), or with one keyed hash of its secret,
  whether or not its id exists, a secret stored by an earlier hasher being stored again under the
  keyed one (`gateway.oauth.hashers`);
- the scope ceiling (see `gateway.oauth.scopes`) at the authorization and token endpoints;
- redirect URIs compared as exact strings, always sent, https only (http loopback in demo mode);
- an authorization code redeemed twice revokes the tokens of its first redemption;
- token issue and revocation are recorded in the trail in the transaction of the token write;
- introspection answers the token's own client, or a provider for the scopes of its own types,
  and never names a citizen;
- as a resource server, a bearer token is loaded with its client, ApiClient and organisation in one
  query, read afresh on every request (a revoked token or a deactivated organisation is refused on
  the next one).
"""

from __future__ import annotations

import json
from typing import Any, TypeVar
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import CharField, Model
from django.utils import timezone
from django.utils.functional import SimpleLazyObject
from oauth2_provider.models import AbstractApplication, AccessToken, Application
from oauth2_provider.oauth2_validators import OAuth2Validator
from oauth2_provider.settings import oauth2_settings
from oauthlib.oauth2.rfc6749 import errors

from consent.models import TokenBinding
from core.compiled import CompiledQuery
from gateway.models import AuthorizationCode, DpopBinding, GrantedDetails
from gateway.oauth.assertions import AssertionRefused, client_assertion_check, client_assertion_presented
from gateway.oauth.hashers import client_secret_check
from gateway.oauth.inputs import presented_credentials, storable
from gateway.oauth.scopes import api_client_for, introspection_scope, scope_ceiling
from gateway.services.tokens import (
    client_actor,
    code_replay_revoke,
    token_checksum,
    token_issued_record,
    token_revoked_record,
)
from providers.models import ApiClient, Organisation
from providers.selectors import attestation_type_slugs_held
from providers.services import oauth_refusal_record

M = TypeVar("M", bound=Model)

# Application.authorization_grant_type values, and the grant_type parameters they allow.
ALLOWED_GRANTS = (AbstractApplication.GRANT_AUTHORIZATION_CODE, AbstractApplication.GRANT_CLIENT_CREDENTIALS)
ALLOWED_GRANT_TYPES = ("authorization_code", "client_credentials")
LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "::1"}


# What authentication reads of a bearer token's rows (DOT's checks, the caller), by model: the
# prefix of its columns in the query, and its fields; any other field stays deferred (read on
# access, as `QuerySet.only` leaves it).
_BEARER_FIELDS: dict[type[Model], tuple[str, tuple[str, ...]]] = {
    AccessToken: ("", ("id", "user_id", "application_id", "token_checksum", "expires", "scope", "resource")),
    Application: ("application__", ("id", "client_id", "name", "client_type", "authorization_grant_type")),
    ApiClient: (
        "application__api_client__",
        (
            "id",
            "application_id",
            "organisation_id",
            "allowed_scopes",
            "jwks",
            "jwks_uri",
            "require_encrypted_attestations",
        ),
    ),
    Organisation: (
        "application__api_client__organisation__",
        ("id", "siret", "code", "name", "kind", "active", "rate_limit_per_minute"),
    ),
}

# Every API request reads its bearer token: one query, compiled once (core.compiled).
_BEARER = CompiledQuery(
    lambda checksum: (
        AccessToken.objects.filter(token_checksum=checksum)
        .order_by()
        .values(*(prefix + name for prefix, names in _BEARER_FIELDS.values() for name in names), "dpop_binding__jkt")[
            :1
        ]
    ),
    checksum=CharField(),
)


def _instance(model: type[M], row: dict[str, Any]) -> M | None:
    """The model instance whose columns `row` holds, None for an unmatched join: `Model.from_db`,
    Django's own constructor for rows it read (values already converted)."""
    prefix, names = _BEARER_FIELDS[model]
    values = [row[prefix + name] for name in names]
    if values[0] is None:
        return None
    return model.from_db(DEFAULT_DB_ALIAS, names, values)


def bearer_token_load(token: str) -> AccessToken | None:
    """The access token presented as a bearer, with its client and the client's ApiClient and
    organisation: one query, read afresh on every request."""
    row = _BEARER.first(checksum=token_checksum(token))
    if row is None:
        return None
    access_token = _instance(AccessToken, row)
    application = _instance(Application, row)
    api_client = _instance(ApiClient, row)
    organisation = _instance(Organisation, row)
    assert access_token is not None
    # The DPoP key the token is bound to, or None for a bearer token (core.authentication).
    access_token.dpop_jkt = row["dpop_binding__jkt"]
    if application is not None:
        access_token.application = application
        if api_client is not None and organisation is not None:
            api_client.organisation = organisation
            application.api_client = api_client
    return access_token


def redirect_uri_problem(uri: str) -> str | None:
    """Why a redirect URI may not be registered or used, or None when it may."""
    parts = urlsplit(uri)
    if "#" in uri:
        return "A redirect URI has no fragment (RFC 6749 §3.1.2)."
    if "@" in parts.netloc:
        return "A redirect URI carries no user information."
    if not parts.hostname:
        return "A redirect URI is absolute."
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and settings.DEMO_MODE and parts.hostname in LOOPBACK_HOSTS:
        return None
    return "A redirect URI uses https (http only on a loopback address, in demo mode)."


def redirect_uri_registered(uri: str, registered: list[str]) -> bool:
    # Exact string comparison (RFC 9700 §4.1.3): no case folding, no extra query, no prefix.
    return redirect_uri_problem(uri) is None and uri in registered


def _previous_secret(client: Application | None) -> str | None:
    """The hash of the secret a rotation replaced, while its overlap lasts."""
    api_client = api_client_for(client)
    if api_client is None or not api_client.previous_secret or api_client.previous_secret_expires_at is None:
        return None
    return api_client.previous_secret if timezone.now() < api_client.previous_secret_expires_at else None


class CodeReplayed(Exception):
    pass


def _details(value: Any) -> list[dict[str, Any]] | None:
    """The normalised authorization details a request carries (a JSON string), or None."""
    if not value:
        return None
    details: list[dict[str, Any]] = json.loads(value)
    return details


class GatewayOAuth2Validator(OAuth2Validator):
    # --- Clients -----------------------------------------------------------------------------

    def _load_application(self, client_id: str, request: Any) -> Application | None:
        """The client, with its ApiClient and organisation (one query), if the gateway serves it.

        Replaces DOT's: operators create the clients (no Client ID Metadata Documents), and an id
        the database could not hold is no client's, where DOT would let the database fail."""
        client = request.client if isinstance(request.client, Application) else None
        if client is None or client.client_id != client_id:
            client = None
            if isinstance(client_id, str) and storable("client_id", client_id):
                client = (
                    Application.objects.select_related("api_client__organisation").filter(client_id=client_id).first()
                )
        api_client = api_client_for(client)
        if (
            client is None
            or client.skip_authorization
            or client.client_type != AbstractApplication.CLIENT_CONFIDENTIAL
            or client.authorization_grant_type not in ALLOWED_GRANTS
            or api_client is None
            or api_client.disabled_at is not None
            or not api_client.organisation.active
        ):
            request.client = None
            return None
        request.client = client
        return client

    def client_authentication_required(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        # Confidential clients only: every token request authenticates (FAPI 2.0 §5.3.2.1).
        return True

    def authenticate_client(self, request: Any, *args: Any, **kwargs: Any) -> bool:
        """The client authenticates by the one method it is registered for: `private_key_jwt`
        (a client assertion), or its secret (client_secret_basic, or client_secret_post for the
        clients written before). A refused assertion, or a method the client is not registered
        for, is recorded in the trail with the reason."""
        endpoint = urlsplit(request.uri).path
        if client_assertion_presented(request):
            try:
                client_id = client_assertion_check(
                    request, load=lambda client_id: self._load_application(client_id, request)
                )
            except AssertionRefused as refused:
                request.client = None
                oauth_refusal_record(reason=refused.reason, endpoint=endpoint, client_id=refused.client_id)
                return False
            request.client_id = client_id
            return True
        if not self._authenticate_by_secret(request):
            return False
        api_client = api_client_for(request.client)
        if api_client is None or api_client.token_endpoint_auth_method != ApiClient.AuthMethod.CLIENT_SECRET_BASIC:
            oauth_refusal_record(
                reason="auth_method_not_registered", endpoint=endpoint, client_id=request.client.client_id
            )
            request.client = None
            return False
        return True

    def _authenticate_by_secret(self, request: Any) -> bool:
        """client_secret_basic or client_secret_post (RFC 6749 §2.3.1), checked by one keyed hash.

        Replaces DOT's, which compares a secret only when the client id exists (the time of the
        answer told which ids do) and never replaces an old hash: here every request costs one
        HMAC, against the client's stored hash or a dummy one (gateway.oauth.hashers)."""
        credentials = presented_credentials(
            authorization=request.headers.get("Authorization"),
            client_id=request.client_id,
            client_secret=getattr(request, "client_secret", None),
        )
        secret = credentials.secret if credentials is not None else None
        if secret is not None and not storable("client_secret", secret):
            secret = None
        client = self._load_application(credentials.client_id, request) if credentials is not None else None

        def rehash(raw: str) -> None:
            # Compare-and-set on the old hash: a secret changed meanwhile is left alone.
            assert client is not None
            Application.objects.filter(pk=client.pk, client_secret=client.client_secret).update(
                client_secret=make_password(raw, hasher=oauth2_settings.CLIENT_SECRET_HASHER)
            )

        stored = client.client_secret if client is not None else None
        if client_secret_check(secret, stored, rehash=rehash):
            return True
        previous = _previous_secret(client)
        # Only after a rotation, during its overlap: the cost of a wrong secret is otherwise unchanged.
        if previous is not None and client_secret_check(secret, previous, rehash=lambda raw: None):
            return True
        request.client = None
        return False

    def authenticate_client_id(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> bool:
        return False

    def validate_grant_type(
        self, client_id: str, grant_type: str, client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        if grant_type not in ALLOWED_GRANT_TYPES:
            return False
        return bool(super().validate_grant_type(client_id, grant_type, client, request, *args, **kwargs))

    # --- Scopes ------------------------------------------------------------------------------

    def validate_scopes(
        self, client_id: str, scopes: list[str], client: Any, request: Any, *args: Any, **kwargs: Any
    ) -> bool:
        # No default scope (RFC 6749 §3.3): a request that names none is refused (invalid_scope)
        # rather than answered with a token that can do nothing.
        return bool(scopes) and set(scopes) <= scope_ceiling(client)

    # --- Redirect URIs -----------------------------------------------------------------------

    def get_default_redirect_uri(self, client_id: str, request: Any, *args: Any, **kwargs: Any) -> None:
        # No default: a request without redirect_uri is refused rather than completed silently.
        return None

    def validate_redirect_uri(self, client_id: str, redirect_uri: str, request: Any, *args: Any, **kwargs: Any) -> bool:
        return redirect_uri_registered(redirect_uri, request.client.redirect_uris.split())

    # --- Authorization codes -----------------------------------------------------------------

    def save_authorization_code(
        self, client_id: str, code: dict[str, str], request: Any, *args: Any, **kwargs: Any
    ) -> None:
        with transaction.atomic():
            super().save_authorization_code(client_id, code, request, *args, **kwargs)
            AuthorizationCode.objects.create(
                code_sha256=token_checksum(code["code"]),
                application=request.client,
                # Set by the consent screen (gateway.oauth.views) when the citizen approved a consent.
                consent_id=getattr(request, "consent_id", None),
                # Named by the authorization request (gateway.oauth.dpop.authorization_dpop_jkt).
                dpop_jkt=getattr(request, "dpop_jkt", None) or "",
                # Granted on the consent screen (gateway.oauth.details), echoed with the tokens.
                authorization_details=_details(getattr(request, "authorization_details", None)),
            )

    def validate_code(self, client_id: str, code: str, client: Any, request: Any, *args: Any, **kwargs: Any) -> bool:
        redeemed = AuthorizationCode.objects.filter(code_sha256=token_checksum(code), redeemed_at__isnull=False)
        if redeemed.exists():
            code_replay_revoke(code_sha256=token_checksum(code))
            return False
        return bool(super().validate_code(client_id, code, client, request, *args, **kwargs))

    # --- Resource server (bearer tokens) ------------------------------------------------------

    def _load_access_token(self, token: str) -> AccessToken | None:
        return bearer_token_load(token)

    def validate_bearer_token(self, token: str, scopes: list[str], request: Any) -> bool:
        """DOT's check (unexpired, scopes, audience, usable client), with the token's own scopes as
        `request.scopes`: DOT's `AccessToken.scopes` would read the whole scope catalogue (one
        more query) only to drop the scopes of types withdrawn since; the exchange checks the type
        itself. Any refusal goes through DOT's own method, so its error details stay the same."""
        if not token or oauth2_settings.RESOURCE_SERVER_INTROSPECTION_URL:
            return bool(super().validate_bearer_token(token, scopes, request))
        access_token = self._load_access_token(token)
        application = access_token.application if access_token is not None else None
        if (
            access_token is None
            or not access_token.is_valid(scopes)
            or (access_token.resource and not access_token.allows_audience(request.uri.split("?")[0]))
            or (application is not None and not application.is_usable(request))
        ):
            return bool(super().validate_bearer_token(token, scopes, request))
        request.client = application
        # Loaded only if read: API callers are organisations' clients, not users (core.authentication).
        request.user = SimpleLazyObject(lambda: access_token.user)
        request.scopes = access_token.scope.split()
        request.access_token = access_token
        return True

    # --- Tokens ------------------------------------------------------------------------------

    def _create_access_token(self, expires: Any, request: Any, token: Any, source_refresh_token: Any = None) -> Any:
        access_token = super()._create_access_token(expires, request, token, source_refresh_token)
        request.gateway_access_token = access_token
        return access_token

    def save_bearer_token(self, token: dict[str, Any], request: Any, *args: Any, **kwargs: Any) -> None:
        try:
            with transaction.atomic():
                super().save_bearer_token(token, request, *args, **kwargs)
                access_token: AccessToken = request.gateway_access_token
                jkt = getattr(request, "dpop_jkt", None)
                if jkt:
                    # RFC 9449 §5: a token bound to the proof's key (gateway.oauth.dpop).
                    DpopBinding.objects.create(access_token=access_token, jkt=jkt)
                    token["token_type"] = "DPoP"
                if request.grant_type == "authorization_code":
                    details = self._redeem(request.code, access_token)
                    if details:
                        GrantedDetails.objects.create(access_token=access_token, details=details)
                        token["authorization_details"] = details
                token_issued_record(access_token=access_token, grant_type=request.grant_type)
        except CodeReplayed:
            # Two redemptions raced: the one that lost is a replay like any other.
            code_replay_revoke(code_sha256=token_checksum(request.code))
            raise errors.InvalidGrantError(request=request) from None

    def _redeem(self, code: str, access_token: AccessToken) -> list[dict[str, Any]] | None:
        record = AuthorizationCode.objects.select_for_update().filter(code_sha256=token_checksum(code)).first()
        if record is None or record.redeemed_at is not None:
            raise CodeReplayed()
        record.redeemed_at = timezone.now()
        record.token_checksums = [access_token.token_checksum]
        record.save(update_fields=["redeemed_at", "token_checksums"])
        if record.consent_id is not None:
            TokenBinding.objects.create(access_token=access_token, consent_id=record.consent_id)
        details: list[dict[str, Any]] | None = record.authorization_details
        return details

    def introspect_token(
        self, token: str, token_type_hint: str | None, request: Any, *args: Any, **kwargs: Any
    ) -> dict[str, Any] | None:
        """RFC 7662 as the gateway answers it: a live token exists for the client it was issued to,
        and for a provider's client whose organisation holds an attestation type the token's scope
        names (it sees those scopes only); for anyone else it is inactive (None). Never a citizen
        identifier (DOT's `username`): whose data a token reaches is the consent's business."""
        access_token = (
            AccessToken.objects.select_related("application", "dpop_binding", "granted_details")
            .filter(token_checksum=token_checksum(token))
            .first()
        )
        if access_token is None or access_token.application is None or access_token.is_expired():
            return None
        issued_to_caller = access_token.application_id == request.client.pk
        caller = api_client_for(request.client)
        held: set[str] = set()
        if not issued_to_caller and caller is not None:
            held = attestation_type_slugs_held(holder_id=caller.organisation_id)
        scope = introspection_scope(scope=access_token.scope, issued_to_caller=issued_to_caller, held_slugs=held)
        if scope is None:
            return None
        claims: dict[str, Any] = {
            "scope": scope,
            "client_id": access_token.application.client_id,
            "token_type": "Bearer",
            "exp": int(access_token.expires.timestamp()),
            "iat": int(access_token.created.timestamp()),
        }
        binding = getattr(access_token, "dpop_binding", None)
        if binding is not None:
            # RFC 9449 §6.2: the key the token is bound to.
            claims["token_type"] = "DPoP"
            claims["cnf"] = {"jkt": binding.jkt}
        granted = getattr(access_token, "granted_details", None)
        if granted is not None and issued_to_caller:
            claims["authorization_details"] = granted.details
        if access_token.resource:
            claims["aud"] = access_token.resource
        return claims

    def revoke_token(self, token: str, token_type_hint: str | None, request: Any, *args: Any, **kwargs: Any) -> None:
        application_pk = getattr(request.client, "pk", None)
        with transaction.atomic():
            if application_pk is not None:
                for access_token in AccessToken.objects.select_related("application").filter(
                    token_checksum=token_checksum(token), application_id=application_pk
                ):
                    token_revoked_record(
                        access_token=access_token,
                        actor=client_actor(request.client.client_id),
                        reason="revoked_by_client",
                    )
            super().revoke_token(token, token_type_hint, request, *args, **kwargs)
