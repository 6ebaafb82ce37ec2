"""Which organisation an OAuth client acts for: the concrete side of core's "who is calling" door.

Configured as DRF's default authentication class (gateway/settings.py), so every API of every app
sees the same caller and the same refusals. The token arrives with its client, the client's
ApiClient and organisation already loaded by the OAuth validator (one query, read afresh on each
request: an organisation switched off is refused on its next call).
"""

from __future__ import annotations

from django.core.exceptions import ObjectDoesNotExist
from oauth2_provider.models import AccessToken

from core.authentication import BearerAuthentication, Caller
from providers import rules
from providers.models import ApiClient
from providers.services import oauth_refusal_record


def api_client_of(access_token: AccessToken) -> ApiClient | None:
    """The ApiClient of a token's client, None for a client no organisation operates."""
    application = access_token.application
    if application is None:
        return None
    try:
        api_client: ApiClient = application.api_client
        return api_client
    except ObjectDoesNotExist:
        return None


def caller_for_token(access_token: AccessToken) -> Caller | None:
    api_client = api_client_of(access_token)
    if api_client is None or not api_client.organisation.active:
        return None
    organisation = api_client.organisation
    return Caller(
        client_id=api_client.application.client_id,
        organisation_id=organisation.pk,
        organisation_siret=organisation.siret,
        client_scopes=rules.client_scopes_allowed(
            scopes=api_client.allowed_scopes.split(), organisation_kind=organisation.kind
        ),
        token_scopes=frozenset(access_token.scope.split()),
        access_token_id=access_token.pk,
        rate_limit_per_minute=organisation.rate_limit_per_minute,
        attestation_encryption=attestation_encryption(api_client),
    )


def attestation_encryption(api_client: ApiClient) -> str:
    """How attestations reach this client (core.authentication.Caller.attestation_encryption)."""
    if api_client.require_encrypted_attestations:
        return "required"
    keys = (api_client.jwks or {}).get("keys") or []
    if api_client.jwks_uri or any(isinstance(key, dict) and key.get("use") == "enc" for key in keys):
        return "registered"
    return ""


class OrganisationClientAuthentication(BearerAuthentication):
    def caller_for(self, access_token: AccessToken) -> Caller | None:
        return caller_for_token(access_token)

    def refusal_record(self, *, endpoint: str, reason: str, access_token: AccessToken) -> None:
        application = access_token.application
        client_id = application.client_id if application is not None else ""
        oauth_refusal_record(reason=reason, endpoint=endpoint, client_id=client_id)
