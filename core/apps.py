from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Installed only for its templates, template tags and the OpenAPI extensions; no models."""

    name = "core"
    verbose_name = "Core"

    def ready(self) -> None:
        # Registers the OpenAPI description of the authentication classes with drf-spectacular.
        from core import openapi  # noqa: F401
