"""The consents' rules, each stated once as a pure function over plain values.

`consent_denial` decides whether a consent may serve an exchange right now; `expiry_due` whether
its time is up. The exchange (sync and async), the expiry task, the selectors and the pages all
call these; selectors and the expiry sweep only narrow down candidates in the database.
"""

from __future__ import annotations

import datetime as dt

from consent.models import Consent
from core.errors import (
    ConsentExpired,
    ConsentPaused,
    ConsentRequired,
    ConsentRevoked,
    GatewayError,
    UsageLimitReached,
)

Status = Consent.Status


def expiry_due(
    *, status: str, request_expires_at: dt.datetime | None, valid_until: dt.datetime | None, now: dt.datetime
) -> bool:
    """A request nobody decided in time, or a consent past its last moment, whose status does not
    say so yet."""
    if status == Status.PENDING:
        return request_expires_at is not None and request_expires_at <= now
    if status in (Status.ACTIVE, Status.PAUSED):
        return valid_until is not None and valid_until <= now
    return False


def consent_denial(
    *,
    status: str,
    valid_from: dt.datetime | None,
    valid_until: dt.datetime | None,
    max_uses: int | None,
    uses: int,
    now: dt.datetime,
) -> GatewayError | None:
    """Why this consent cannot serve an exchange at `now`, or None when it can."""
    if status in (Status.ACTIVE, Status.PAUSED) and valid_until is not None and valid_until <= now:
        return ConsentExpired()
    if status == Status.PAUSED:
        return ConsentPaused()
    if status == Status.REVOKED:
        return ConsentRevoked()
    if status == Status.EXPIRED:
        return ConsentExpired()
    if status != Status.ACTIVE:
        return ConsentRequired("The consent is not active.")
    if valid_from is not None and valid_from > now:
        return ConsentRequired("The consent is not valid yet.")
    if max_uses is not None and uses >= max_uses:
        return UsageLimitReached()
    return None
