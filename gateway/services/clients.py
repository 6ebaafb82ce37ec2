"""OAuth clients of consumer organisations: created by an operator (`manage.py create_client`) or
by the organisation's administrators in the portal; their secret rotated with an overlap, their
redirect URIs changed, disabled. Each change writes its `client.*` event in its transaction."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import AccessToken, Application
from oauth2_provider.settings import oauth2_settings

from audit.models import ActorKind, EventType
from audit.services import Actor, event_record
from core.errors import InvalidTransition, ValidationError
from gateway.oauth.scopes import static_scopes
from gateway.oauth.validators import redirect_uri_problem
from gateway.services.tokens import tokens_revoke
from providers.models import ApiClient, Organisation
from providers.rules import client_keys_problems

GRANTS = (Application.GRANT_CLIENT_CREDENTIALS, Application.GRANT_AUTHORIZATION_CODE)
# How long a replaced secret may still authenticate, at most: long enough to deploy the new one.
MAX_SECRET_OVERLAP = dt.timedelta(days=7)
OPERATOR = Actor(ActorKind.OPERATOR, "operator")


@dataclass(frozen=True)
class NewClient:
    application: Application
    api_client: ApiClient
    # The cleartext secret exists only here: the database keeps its keyed hash (gateway.oauth.hashers).
    client_secret: str


@transaction.atomic
def client_create(
    *,
    organisation: Organisation,
    name: str,
    grant: str = Application.GRANT_CLIENT_CREDENTIALS,
    redirect_uris: Sequence[str] = (),
    scopes: Sequence[str] = ("consents:read", "consents:write"),
    client_id: str | None = None,
    client_secret: str | None = None,
    token_endpoint_auth_method: str | None = None,
    jwks: dict[str, Any] | None = None,
    jwks_uri: str = "",
    require_dpop: bool = False,
    require_par: bool = False,
    require_encrypted_attestations: bool = False,
    actor: Actor = OPERATOR,
) -> NewClient:
    """A confidential client of `organisation`. It authenticates with `token_endpoint_auth_method`
    (OAUTH_NEW_CLIENT_AUTH_METHOD unless given: private_key_jwt outside demo mode), which for
    private_key_jwt needs its public keys (`jwks` inline or `jwks_uri`)."""
    errors: dict[str, list[dict[str, str]]] = {}
    auth_method = token_endpoint_auth_method or settings.OAUTH_NEW_CLIENT_AUTH_METHOD
    for field, message in client_keys_problems(
        auth_method=auth_method,
        jwks=jwks,
        jwks_uri=jwks_uri,
        require_encrypted_attestations=require_encrypted_attestations,
        demo_mode=settings.DEMO_MODE,
    ).items():
        errors.setdefault(field, []).append({"code": "invalid", "message": message})
    if not isinstance(name, str) or not name.strip():
        errors.setdefault("name", []).append({"code": "required", "message": "A client has a name."})
    if grant not in GRANTS:
        errors.setdefault("grant", []).append({"code": "invalid_choice", "message": "One of: " + ", ".join(GRANTS)})
    if grant == Application.GRANT_AUTHORIZATION_CODE and not redirect_uris:
        errors.setdefault("redirect_uri", []).append(
            {"code": "required", "message": "An authorization_code client needs a redirect URI."}
        )
    if grant == Application.GRANT_CLIENT_CREDENTIALS and redirect_uris:
        errors.setdefault("redirect_uri", []).append(
            {"code": "not_allowed", "message": "A client_credentials client has no redirect URI."}
        )
    errors.update(_redirect_uri_errors(redirect_uris))
    unknown = sorted(set(scopes) - set(static_scopes()))
    if unknown:
        errors.setdefault("scopes", []).append(
            {
                "code": "invalid_choice",
                "message": "Only " + ", ".join(sorted(static_scopes())) + " are configured here; "
                "attestations:<slug> scopes come from approved habilitations.",
            }
        )
    if not organisation.active:
        errors.setdefault("organisation", []).append({"code": "inactive", "message": "The organisation is inactive."})
    if errors:
        raise ValidationError("The client cannot be created.", errors=errors)
    secret = client_secret or generate_client_secret()
    application = Application(
        name=name.strip(),
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=grant,
        redirect_uris=" ".join(redirect_uris),
        client_secret=secret,
        skip_authorization=False,
        algorithm="",
    )
    if client_id:
        application.client_id = client_id
    application.save()
    api_client = ApiClient.objects.create(
        application=application,
        organisation=organisation,
        allowed_scopes=" ".join(dict.fromkeys(scopes)),
        token_endpoint_auth_method=auth_method,
        jwks=jwks or None,
        jwks_uri=jwks_uri,
        require_dpop=require_dpop,
        require_par=require_par,
        require_encrypted_attestations=require_encrypted_attestations,
    )
    _record(EventType.CLIENT_CREATED, api_client, actor=actor, grant=grant)
    return NewClient(application=application, api_client=api_client, client_secret=secret)


def _redirect_uri_errors(redirect_uris: Sequence[str]) -> dict[str, list[dict[str, str]]]:
    errors: dict[str, list[dict[str, str]]] = {}
    for uri in redirect_uris:
        problem = redirect_uri_problem(uri)
        if problem:
            errors.setdefault("redirect_uri", []).append({"code": "invalid", "message": problem})
    if len(set(redirect_uris)) != len(redirect_uris):
        errors.setdefault("redirect_uri", []).append({"code": "duplicate", "message": "Each redirect URI once."})
    return errors


def _record(type: EventType, api_client: ApiClient, *, actor: Actor, **detail: str | int | None) -> None:
    event_record(
        type=type,
        actor=actor,
        consumer=api_client.organisation.siret,
        detail={"client_id": api_client.application.client_id, **detail},
    )


def _locked(api_client: ApiClient) -> ApiClient:
    locked = (
        ApiClient.objects.select_for_update(of=("self",))
        .select_related("application", "organisation")
        .get(pk=api_client.pk)
    )
    if locked.disabled_at is not None:
        raise InvalidTransition("This client is disabled.")
    return locked


@transaction.atomic
def client_secret_rotate(*, api_client: ApiClient, overlap: dt.timedelta, actor: Actor) -> str:
    """Gives the client a new secret and returns it (shown once); the replaced one still
    authenticates for `overlap` (zero: not at all)."""
    if overlap < dt.timedelta(0) or overlap > MAX_SECRET_OVERLAP:
        raise ValidationError("The overlap is out of range.", errors={"overlap": "Between none and seven days."})
    locked = _locked(api_client)
    application = locked.application
    secret: str = generate_client_secret()
    now = timezone.now()
    locked.previous_secret = application.client_secret if overlap else ""
    locked.previous_secret_expires_at = now + overlap if overlap else None
    locked.secret_rotated_at = now
    locked.save(update_fields=["previous_secret", "previous_secret_expires_at", "secret_rotated_at"])
    # Hashed here rather than by the model's save: the previous hash above is read first.
    Application.objects.filter(pk=application.pk).update(
        client_secret=make_password(secret, hasher=oauth2_settings.CLIENT_SECRET_HASHER)
    )
    _record(EventType.CLIENT_SECRET_ROTATED, locked, actor=actor, overlap_seconds=int(overlap.total_seconds()))
    return secret


@transaction.atomic
def client_redirect_uris_set(*, api_client: ApiClient, redirect_uris: Sequence[str], actor: Actor) -> ApiClient:
    locked = _locked(api_client)
    application = locked.application
    errors = _redirect_uri_errors(redirect_uris)
    if application.authorization_grant_type == Application.GRANT_AUTHORIZATION_CODE and not redirect_uris:
        errors.setdefault("redirect_uri", []).append(
            {"code": "required", "message": "An authorization_code client needs a redirect URI."}
        )
    if application.authorization_grant_type == Application.GRANT_CLIENT_CREDENTIALS and redirect_uris:
        errors.setdefault("redirect_uri", []).append(
            {"code": "not_allowed", "message": "A client_credentials client has no redirect URI."}
        )
    if errors:
        raise ValidationError("The redirect URIs are not valid.", errors=errors)
    Application.objects.filter(pk=application.pk).update(redirect_uris=" ".join(redirect_uris))
    _record(EventType.CLIENT_UPDATED, locked, actor=actor, redirect_uris=len(redirect_uris))
    return locked


@transaction.atomic
def client_disable(*, api_client: ApiClient, actor: Actor) -> ApiClient:
    """The client authenticates no more, and the tokens it holds stop working at once."""
    locked = _locked(api_client)
    locked.disabled_at = timezone.now()
    locked.previous_secret, locked.previous_secret_expires_at = "", None
    locked.save(update_fields=["disabled_at", "previous_secret", "previous_secret_expires_at"])
    _record(EventType.CLIENT_DISABLED, locked, actor=actor)
    tokens = list(AccessToken.objects.select_related("application").filter(application=locked.application))
    tokens_revoke(access_tokens=tokens, actor=actor, reason="client_disabled")
    return locked
