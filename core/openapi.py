"""drf-spectacular extensions for the gateway's own authentication classes."""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class HeaderBearerScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]  # drf-spectacular's registry hook
    target_class = "core.authentication.BearerAuthentication"
    match_subclasses = True
    name = "oauth2"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An OAuth 2 access token from /oauth/token/, in the Authorization header only.",
        }
