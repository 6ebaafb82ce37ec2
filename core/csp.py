"""django-csp's middleware, with the policy built once per process for the responses that need no
other: no nonce was used and the view set no policy of its own (every API answer, most pages).

Why: django-csp rebuilds both headers on every response (a dataclass copied deeply, the settings'
directives merged and joined, twice), which measured a twentieth of an exchange's CPU in-process
(bench/README.md). A nonce or a per-view policy (`csp.decorators`) takes django-csp's own path.
"""

from __future__ import annotations

import functools
import http.client
from typing import Any

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject
from csp.middleware import CSPMiddleware as LibraryCSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase

# What a view's decorator leaves on its response when it sets a policy of its own.
_PER_RESPONSE = ("_csp_config", "_csp_update", "_csp_replace", "_csp_config_ro", "_csp_update_ro", "_csp_replace_ro")
_HEADERS = (
    (HEADER, False, "_csp_exempt", "CONTENT_SECURITY_POLICY"),
    (HEADER_REPORT_ONLY, True, "_csp_exempt_ro", "CONTENT_SECURITY_POLICY_REPORT_ONLY"),
)


@functools.cache
def settings_policy(report_only: bool) -> str:
    """The header the settings alone make (empty when the setting is absent)."""
    return build_policy(report_only=report_only)


@receiver(setting_changed)
def _settings_changed(*, setting: str, **kwargs: Any) -> None:
    if setting.startswith("CONTENT_SECURITY_POLICY"):
        settings_policy.cache_clear()


class CSPMiddleware(LibraryCSPMiddleware):
    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        if getattr(request, "_csp_nonce", None) is not None or any(hasattr(response, a) for a in _PER_RESPONSE):
            return super().process_response(request, response)
        if settings.DEBUG and response.status_code in (http.client.INTERNAL_SERVER_ERROR, http.client.NOT_FOUND):
            return response
        for header, report_only, exempt, setting in _HEADERS:
            policy = settings_policy(report_only)
            prefixes = tuple((getattr(settings, setting, None) or {}).get("EXCLUDE_URL_PREFIXES") or ())
            excluded = bool(prefixes) and request.path_info.startswith(prefixes)
            if policy and header not in response and not getattr(response, exempt, False) and not excluded:
                response[header] = policy
        # As django-csp does: a nonce asked for after the header is written is an error, not a no-op.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response
