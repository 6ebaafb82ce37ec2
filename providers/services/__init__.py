"""Every write of the providers app: habilitations and webhook secrets, agents and their roles."""

from __future__ import annotations

from providers.services.agents import agent_login, agent_login_failed_record, role_grant, role_revoke
from providers.services.habilitations import (
    attestation_type_withdraw,
    habilitation_approve,
    habilitation_draft_save,
    habilitation_draft_submit,
    habilitation_extension_grant,
    habilitation_extension_refuse,
    habilitation_extension_request,
    habilitation_refuse,
    habilitation_request_changes,
    habilitation_resubmit,
    habilitation_revoke,
    habilitation_submit,
)
from providers.services.refusals import oauth_refusal_record
from providers.services.webhooks import (
    WEBHOOK_SECRET_OVERLAP,
    organisation_webhook_secret_rotate,
    organisation_webhook_secrets,
    webhook_secret_text,
)

__all__ = [
    "attestation_type_withdraw",
    "WEBHOOK_SECRET_OVERLAP",
    "agent_login",
    "agent_login_failed_record",
    "habilitation_approve",
    "oauth_refusal_record",
    "habilitation_draft_save",
    "habilitation_draft_submit",
    "habilitation_extension_grant",
    "habilitation_extension_refuse",
    "habilitation_extension_request",
    "habilitation_refuse",
    "habilitation_request_changes",
    "habilitation_resubmit",
    "habilitation_revoke",
    "habilitation_submit",
    "organisation_webhook_secret_rotate",
    "organisation_webhook_secrets",
    "role_grant",
    "role_revoke",
    "webhook_secret_text",
]
