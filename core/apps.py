from __future__ import annotations

from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Installed only for its templates and template tags; no models."""

    name = "core"
    verbose_name = "Core"
