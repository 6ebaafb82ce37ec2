"""The consents' rules, each stated once as a pure function over plain values.

`consent_denial` decides whether a consent may serve an exchange right now; `expiry_due` whether
its time is up; `may_decide` who may open and decide a request, `awaits_code` whether a request
waits for its one-time code first. The exchange (sync and async),
the expiry task, the selectors and the pages all call these; selectors and the expiry sweep only
narrow down candidates in the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re

from django.conf import settings

from consent.models import Citizen, Consent
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


PIVOT_HASH = re.compile(r"[0-9a-f]{64}")


def pivot_identity_hash(
    *, nom_naissance: str, prenoms: str, date_naissance: dt.date, sexe: str, code_cog_lieu_naissance: str
) -> str:
    """What a consumer sends to address a request to one person: SHA-256 (lower-case hex) of the
    pivot identity its own FranceConnect login gave it, one line each, in this order: birth name,
    given names (separated by one space), date of birth (YYYY-MM-DD), sex (F or M), INSEE code of
    the place of birth; names in upper case, surrounding spaces removed (docs/consent-requests.md)."""
    lines = [
        nom_naissance.strip().upper(),
        " ".join(prenoms.split()).upper(),
        date_naissance.isoformat(),
        sexe.strip().upper(),
        code_cog_lieu_naissance.strip().upper(),
    ]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def addressee_ref(pivot_hash: str) -> str:
    """How the gateway keeps an addressee: keyed, so that a leaked table does not let anyone try
    guessed identities against it (a pivot identity has little entropy)."""
    key = settings.AUDIT_HMAC_KEY.encode()
    return hmac.new(key, b"addressee\n" + pivot_hash.encode(), hashlib.sha256).hexdigest()


def citizen_addressee(citizen: Citizen) -> str:
    """The addressee a citizen answers to, from the identity of their login ("" once erased)."""
    if not citizen.has_identity or citizen.date_naissance is None:
        return ""
    return addressee_ref(
        pivot_identity_hash(
            nom_naissance=str(citizen.nom_naissance),
            prenoms=str(citizen.prenoms or ""),
            date_naissance=citizen.date_naissance,
            sexe=str(citizen.sexe or ""),
            code_cog_lieu_naissance=str(citizen.code_cog_lieu_naissance or ""),
        )
    )


# One-time codes: Crockford's base32 (no I, L, O, U: nothing to misread when copied by hand),
# 12 characters, 60 bits; entered attempts are rate-limited on top (consent.views.codes).
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12
_CODE_READS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def one_time_code_normalized(text: str) -> str:
    """The code as typed, in its one form: case, spaces and dashes do not matter, and the letters
    people take for digits (O, I, L) read as those digits, as Crockford's base32 says."""
    return "".join(text.split()).replace("-", "").upper().translate(_CODE_READS)


def one_time_code_shown(code: str) -> str:
    """XXXX-XXXX-XXXX: easier to read out and type."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def one_time_code_ref(code: str) -> str:
    """How the gateway keeps a one-time code: keyed and hashed, so that the table does not hold
    codes anyone could enter."""
    key = settings.AUDIT_HMAC_KEY.encode()
    return hmac.new(key, b"one-time-code\n" + one_time_code_normalized(code).encode(), hashlib.sha256).hexdigest()


def one_time_code_wellformed(text: str) -> bool:
    code = one_time_code_normalized(text)
    return len(code) == CODE_LENGTH and all(c in CODE_ALPHABET for c in code)


def awaits_code(*, code_ref: str, bound_to: object | None) -> bool:
    """A request addressed by a one-time code that nobody has entered yet: its link alone opens
    nothing but the form that asks for the code."""
    return bool(code_ref) and bound_to is None


def may_decide(
    *, bound_to: object | None, addressee: str, citizen: object, citizen_addressee: str, code_ref: str = ""
) -> bool:
    """Whether this citizen may open and decide a request: the person it is addressed to (named by
    the consumer, or the first to open it, or the one who entered its code), whichever identity
    provider they log in with now; else the login it is bound to; nobody while it waits for its
    one-time code; anyone holding the link while it is addressed to nobody and unopened (the first
    to open it is then bound to it)."""
    if addressee:
        return bool(citizen_addressee) and hmac.compare_digest(addressee, citizen_addressee)
    if bound_to is not None:
        return bound_to == citizen
    return not awaits_code(code_ref=code_ref, bound_to=bound_to)
