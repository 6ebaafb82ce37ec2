from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _

from gateway.celery import app as celery_app


class GatewayConfig(AppConfig):
    name = "gateway"
    verbose_name = _("Exchange gateway")

    def ready(self) -> None:
        # Registers every app's tasks in this process too (Celery's autodiscovery is lazy and only
        # workers trigger it): services enqueue tasks by name (core.tasks), and in eager mode a
        # name must resolve to its task to run in-process.
        celery_app.autodiscover_tasks(force=True)
        # Registers the OpenAPI description of the bearer token's scopes with drf-spectacular, and
        # the deployment checks of the gateway's settings.
        from gateway import checks, openapi  # noqa: F401
