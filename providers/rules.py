"""The providers' rules, each stated once as a pure function over plain values.

Every path that needs one calls it: the exchange's `authorise`, the scope ceiling, consent
requests and approvals, the pages. Selectors read the facts; these decide.
"""

from __future__ import annotations

import datetime as dt

from providers.models import AgentRole, EidasLevel, Habilitation, url_origin

# Who asks for and decides on habilitations, in their own organisation.
HABILITATION_ROLES = frozenset({AgentRole.Role.ADMINISTRATOR, AgentRole.Role.HABILITATION_MANAGER})


def habilitation_in_force(*, status: str, valid_until: dt.date | None, type_active: bool, today: dt.date) -> bool:
    """A habilitation lets its consumer fetch an attestation type while it is approved, not past
    its last day, and the type is still offered. (The consumer itself must be active: callers of
    inactive organisations are refused before any rule runs.)"""
    return (
        status == Habilitation.Status.APPROVED and (valid_until is None or today <= valid_until) and bool(type_active)
    )


def eidas_satisfies(level: str, minimum: str) -> bool:
    """A login at `level` is enough for something that needs `minimum` (eidas1 < eidas2 < eidas3)."""
    return EidasLevel.rank(level) >= EidasLevel.rank(minimum) > 0


def eidas_highest(levels: list[str]) -> str:
    """The strictest of several minimum levels (a consent over several types needs them all)."""
    return max(levels, key=EidasLevel.rank)


def return_url_allowed(*, url: str, origins: list[str]) -> bool:
    """A consent request may send the citizen back to `url` only on an origin its consumer
    registered (Organisation.return_url_origins): same scheme, host and port."""
    origin = url_origin(url)
    return origin is not None and origin in {url_origin(registered) for registered in origins}
