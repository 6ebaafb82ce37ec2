from __future__ import annotations

from django.apps import AppConfig


class GatewayConfig(AppConfig):
    name = "gateway"
    verbose_name = "Passerelle d'échange / Exchange gateway"

    def ready(self) -> None:
        # Registers the OpenAPI description of the gateway's authentication classes.
        from gateway import openapi  # noqa: F401
