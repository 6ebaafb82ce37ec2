"""The scopes backend: static scopes from settings plus one `attestations:<slug>` per offered type.

The scope ceiling lives here: for a given client, the available scopes are the non-attestation
scopes listed in its ApiClient and the attestation scopes its organisation holds an approved,
in-force habilitation for. Both the authorization and the token endpoints ask this backend
(through the validator), so requesting anything above the ceiling is `invalid_scope` at both.
Nothing is cached: a habilitation revoked a second ago is out of the ceiling now.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from oauth2_provider.scopes import BaseScopes
from oauth2_provider.settings import oauth2_settings

from providers.models import ApiClient, AttestationType
from providers.rules import client_scopes_allowed
from providers.selectors import attestation_type_slugs_in_force

ATTESTATION_SCOPE_PREFIX = "attestations:"


def attestation_scope(slug: str) -> str:
    return ATTESTATION_SCOPE_PREFIX + slug


def static_scopes() -> dict[str, str]:
    return dict(oauth2_settings.SCOPES)


def api_client_for(application: Any) -> ApiClient | None:
    """The ApiClient of an Application, remembered on the instance for the rest of the request
    (read with the Application already when it was loaded with `select_related("api_client__organisation")`)."""
    if application is None or getattr(application, "pk", None) is None:
        return None
    if hasattr(application, "_gateway_api_client"):
        cached: ApiClient | None = application._gateway_api_client
        return cached
    if ApiClient.application.field.remote_field.is_cached(application):
        api_client = getattr(application, "api_client", None)
    else:
        api_client = ApiClient.objects.select_related("organisation").filter(application_id=application.pk).first()
    application._gateway_api_client = api_client
    return api_client


def scope_ceiling(application: Any) -> set[str]:
    """Every scope this client may be granted right now."""
    api_client = api_client_for(application)
    if api_client is None or not api_client.organisation.active:
        return set()
    registered = client_scopes_allowed(
        scopes=api_client.allowed_scopes.split(), organisation_kind=api_client.organisation.kind
    )
    allowed = set(registered) & set(static_scopes())
    slugs = attestation_type_slugs_in_force(consumer=api_client.organisation)
    return allowed | {attestation_scope(slug) for slug in slugs}


class GatewayScopes(BaseScopes):
    def get_all_scopes(self) -> dict[str, str]:
        scopes = static_scopes()
        for slug, title_fr, title_en in AttestationType.objects.filter(active=True).values_list(
            "slug", "title_fr", "title_en"
        ):
            scopes[attestation_scope(slug)] = f"{title_fr} / {title_en}"
        return scopes

    def get_available_scopes(
        self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any
    ) -> list[str]:
        if application is None:
            # Discovery (RFC 8414 scopes_supported): every scope that exists.
            return sorted(self.get_all_scopes())
        return sorted(scope_ceiling(application))

    def get_default_scopes(self, application: Any = None, request: Any = None, *args: Any, **kwargs: Any) -> list[str]:
        # Least privilege: a client that asks for nothing gets nothing.
        return []


def introspection_scope(*, scope: str, issued_to_caller: bool, held_slugs: Collection[str]) -> str | None:
    """What a client introspecting a token may learn of its scope (RFC 7662 §4: the server may
    answer each protected resource differently): all of it when the token was issued to that
    client; for a provider's client, the `attestations:<slug>` scopes of the types its organisation
    holds; None (the token is inactive for it) when neither."""
    if issued_to_caller:
        return scope
    own = [name for name in scope.split() if name.startswith(ATTESTATION_SCOPE_PREFIX)]
    own = [name for name in own if name.removeprefix(ATTESTATION_SCOPE_PREFIX) in held_slugs]
    return " ".join(own) or None
