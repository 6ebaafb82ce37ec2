"""Agents' roles, asked of the app that holds them.

Roles (administrator, habilitation manager, auditor) live with agents in `providers`; apps to its
left (the auditor console in `audit`) may not import it, and core imports no app. So the question
goes through here to the predicate `settings.ROLE_PREDICATE` names (`providers.selectors.user_has_role`),
read live on every call: a role revoked a moment ago is refused now. A Django permission granted
by the role service would have answered too, but it is a second copy of the roles that can drift
from them (an organisation deactivated, an agent moved to another one); one predicate cannot.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.utils.module_loading import import_string

AUDITOR = "auditor"


def user_has_role(user: Any, role: str) -> bool:
    return bool(import_string(settings.ROLE_PREDICATE)(user, role))


def user_organisation_siret(user: Any) -> str:
    """The SIRET of the organisation of the agent behind `user` ("" for anyone else), through
    `settings.USER_ORGANISATION` (`providers.selectors.user_organisation_siret`)."""
    return str(import_string(settings.USER_ORGANISATION)(user) or "")
