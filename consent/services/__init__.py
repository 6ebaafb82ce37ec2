"""Every write of the consent app. Views and APIs import from here."""

from __future__ import annotations

from consent.services.interactive import (
    InteractiveRequest,
    interactive_consent_approve,
    interactive_preview,
    interactive_request_build,
)
from consent.services.lifecycle import (
    consent_approve,
    consent_expire_if_due,
    consent_pause,
    consent_reject,
    consent_resume,
    consent_revoke,
    consents_expire_due,
    expiry_due,
)
from consent.services.preview import PreviewItem, consent_preview
from consent.services.requests import approval_url, consent_request_create, consent_request_open

__all__ = [
    "InteractiveRequest",
    "PreviewItem",
    "approval_url",
    "consent_approve",
    "consent_expire_if_due",
    "consent_pause",
    "consent_preview",
    "consent_reject",
    "consent_request_create",
    "consent_request_open",
    "consent_resume",
    "consent_revoke",
    "consents_expire_due",
    "expiry_due",
    "interactive_consent_approve",
    "interactive_preview",
    "interactive_request_build",
]
