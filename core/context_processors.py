from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from core.roles import AUDITOR, user_has_role


def service(request: HttpRequest) -> dict[str, Any]:
    return {
        "DEMO_MODE": settings.DEMO_MODE,
        "GATEWAY_BASE_URL": settings.GATEWAY_BASE_URL,
        # A callable, so that only the pages that ask (the header's menu) pay for the query.
        "is_auditor": lambda: user_has_role(getattr(request, "user", None), AUDITOR),
    }


@dataclass(frozen=True)
class SiteConfig:
    """What django-dsfr's base, header and footer templates read from `SITE_CONFIG`.

    django-dsfr stores these in its `DsfrConfig` model, one row per language, edited in the admin:
    here they are UI text like any other, so they live in the gettext catalogues instead of rows
    that a fresh database would lack.
    """

    site_title: str | Promise
    site_tagline: str | Promise
    footer_description: str | Promise
    header_brand_html: str = "République<br>Française"
    footer_brand: str = "République française"
    footer_brand_html: str = "République<br>Française"
    mourning: bool = False
    beta_tag: bool = False


SITE_CONFIG = SiteConfig(
    site_title=_("Provide it once"),
    site_tagline=_("The data exchange gateway between administrations, with your consent"),
    footer_description=_(
        "Open-source software. Every data exchange is written to a verifiable trail that you can read."
    ),
)

# django-dsfr's base template renders these with {% dsfr_skiplinks skiplinks %}.
SKIPLINKS = [
    {"link": "#content", "label": _("Content")},
    {"link": "#fr-navigation", "label": _("Menu")},
    {"link": "#footer", "label": _("Footer")},
]


def site_config(request: HttpRequest) -> dict[str, Any]:
    return {"SITE_CONFIG": SITE_CONFIG, "skiplinks": SKIPLINKS}
