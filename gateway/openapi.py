"""The OpenAPI schema's `oauth2` security scheme: its two flows, every scope a client can be
granted (the static ones and one `attestations:<slug>` per offered type, read from the catalogue
when the schema is made), and per operation the scopes its view asks for (`required_scopes`, or
`scopes[METHOD]`). An attestation operation takes the scope of the type in its path: the schema
lists one alternative per type, any one of which is the right one for that type's path."""

from __future__ import annotations

from typing import Any

from django.db import OperationalError
from drf_spectacular.extensions import OpenApiAuthenticationExtension

from gateway.oauth.scopes import attestation_scope
from providers.models import AttestationType

STATIC_SCOPES = {
    "consents:read": "Read the consents your organisation asked for",
    "consents:write": "Ask citizens for consent, end consents",
    "audit:read": "Search and export the audit trail (supervisory bodies' auditors)",
}


def attestation_scopes() -> dict[str, str]:
    """`attestations:<slug>` of every offered type, described by the type's English title; none when
    the schema is made without a database (`manage.py check --deploy` makes it, before any)."""
    offered = AttestationType.objects.filter(active=True).order_by("slug").values_list("slug", "title_en")
    try:
        return {attestation_scope(slug): f"Fetch attestations of the type {slug} ({title})" for slug, title in offered}
    except OperationalError:
        return {}


class OAuth2Scheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]  # drf-spectacular's registry hook
    target_class = "core.authentication.BearerAuthentication"
    match_subclasses = True
    name = "oauth2"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        scopes = STATIC_SCOPES | attestation_scopes()
        return {
            "type": "oauth2",
            "description": (
                "An access token from /oauth/token/, sent as `Authorization: Bearer …` only. Software of an "
                "administration uses client credentials; a consent given on /oauth/authorize/ binds an "
                "authorization-code token to that consent. A type's scope is attestations:<slug>, granted "
                "while the organisation holds a habilitation for it in force."
            ),
            "flows": {
                "clientCredentials": {"tokenUrl": "/oauth/token/", "scopes": scopes},
                "authorizationCode": {
                    "authorizationUrl": "/oauth/authorize/",
                    "tokenUrl": "/oauth/token/",
                    "scopes": scopes,
                },
            },
        }

    def get_security_requirement(self, auto_schema: Any) -> dict[str, list[str]] | list[dict[str, list[str]]]:
        view = auto_schema.view
        method = auto_schema.method.upper()
        scopes = getattr(view, "required_scopes", None) or getattr(view, "scopes", {}).get(method)
        if scopes is None and ("{slug}" in auto_schema.path or "exchange" in auto_schema.path):
            # The type's own scope: one alternative per offered type.
            return [{self.name: [scope]} for scope in attestation_scopes()] or [{self.name: []}]
        return {self.name: list(scopes or [])}
