"""Deployment checks of the gateway's own settings (`manage.py check --deploy`)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Tags, Warning, register

# Who runs the instance, shown to everyone on the legal notice, the personal data page and the
# accessibility statement: the law asks a public service to say them.
OPERATOR_SETTINGS = (
    "GATEWAY_OPERATOR_NAME",
    "GATEWAY_OPERATOR_ADDRESS",
    "GATEWAY_HOSTING",
    "GATEWAY_CONTACT_EMAIL",
    "GATEWAY_DPO_EMAIL",
)


@register(Tags.compatibility, deploy=True)
def operator_published(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    return [
        Warning(
            f"{name} is not set: the legal notice, personal data and accessibility pages say it is not published.",
            hint="Set it in the environment (README.md, 'Configuration').",
            id="gateway.W001",
        )
        for name in OPERATOR_SETTINGS
        if not getattr(settings, name, "")
    ]
