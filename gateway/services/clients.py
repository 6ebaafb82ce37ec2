"""OAuth clients of consumer organisations, created by operators (no self-service registration)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from oauth2_provider.generators import generate_client_secret
from oauth2_provider.models import Application

from core.errors import ValidationError
from gateway.oauth.scopes import static_scopes
from gateway.oauth.validators import redirect_uri_problem
from providers.models import ApiClient, Organisation
from providers.rules import client_keys_problems

GRANTS = (Application.GRANT_CLIENT_CREDENTIALS, Application.GRANT_AUTHORIZATION_CODE)


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
    if not name.strip():
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
    for uri in redirect_uris:
        problem = redirect_uri_problem(uri)
        if problem:
            errors.setdefault("redirect_uri", []).append({"code": "invalid", "message": problem})
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
    return NewClient(application=application, api_client=api_client, client_secret=secret)
