"""The consents' rules, each stated once as a pure function over plain values.

`consent_denial` decides whether a consent may serve an exchange right now; `expiry_due` whether
its time is up; `may_decide` who may open and decide a request, `awaits_code` whether a request
waits for its one-time code first; `acting_ground` whether a person may do an action for a
subject (themselves, a company, another person) and on what ground; `delegation_refusal` whether
a delegation stays within what its grantor holds. The exchange (sync and async), the expiry task,
the selectors and the pages all call these; selectors and the expiry sweep only narrow down
candidates in the database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import uuid
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from consent.models import Citizen, Consent, Ground, Mandate
from core.errors import (
    ConsentExpired,
    ConsentPaused,
    ConsentRequired,
    ConsentRevoked,
    GatewayError,
    PermissionDeniedError,
    UsageLimitReached,
)
from providers.adapters.base import Subject
from providers.demodata.population import canonical_name

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


def citizen_pivot_hash(citizen: Citizen) -> str:
    """The pivot identity hash of a citizen's login, as a consumer would compute it ("" once erased)."""
    if not citizen.has_identity or citizen.date_naissance is None:
        return ""
    return pivot_identity_hash(
        nom_naissance=str(citizen.nom_naissance),
        prenoms=str(citizen.prenoms or ""),
        date_naissance=citizen.date_naissance,
        sexe=str(citizen.sexe or ""),
        code_cog_lieu_naissance=str(citizen.code_cog_lieu_naissance or ""),
    )


def citizen_addressee(citizen: Citizen) -> str:
    """The addressee a citizen answers to, from the identity of their login ("" once erased)."""
    pivot_hash = citizen_pivot_hash(citizen)
    return addressee_ref(pivot_hash) if pivot_hash else ""


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


# --- Acting for someone ---------------------------------------------------------------------

ACTIONS: tuple[str, ...] = tuple(Mandate.Action.values)


@dataclass(frozen=True)
class MandateTerms:
    """What the rules need of a mandate held by the person acting, for the subject at hand."""

    id: uuid.UUID
    kind: str
    status: str
    attestation_types: frozenset[str]
    actions: frozenset[str]
    valid_from: dt.datetime
    valid_until: dt.datetime
    # Every mandate it was carved from is in force too (a delegate's own delegation).
    chain_in_force: bool = True


@dataclass(frozen=True)
class ActingGround:
    """Why a person may act: for themselves, as the register's legal representative (with the
    check that said so), or under a mandate."""

    ground: str
    mandate_id: uuid.UUID | None = None
    register_check_id: uuid.UUID | None = None


class ActingRefused(PermissionDeniedError):
    """A person may not do this for this subject; `extra["reason"]` says why, for the pages."""


def mandate_in_force(mandate: MandateTerms, now: dt.datetime) -> bool:
    return (
        mandate.status == Mandate.Status.ACTIVE
        and mandate.chain_in_force
        and mandate.valid_from <= now < mandate.valid_until
    )


def acting_ground(
    *,
    is_subject: bool,
    listed: bool | None,
    mandates: Sequence[MandateTerms],
    action: str,
    types: Collection[str],
    now: dt.datetime,
    register_check_id: uuid.UUID | None = None,
) -> ActingGround | ActingRefused:
    """May this person do `action` on `types` for the subject now, and on what ground.

    `is_subject`: they are the subject. `listed`: the companies register's answer, checked live
    when they act for a company (None when not asked). `mandates`: the ones they hold for this
    subject. Refusals name the most telling reason: a mandate past its end, one that does not
    cover the action or the types, the register no longer listing them."""
    if is_subject:
        return ActingGround(Ground.SUBJECT)
    if listed:
        return ActingGround(Ground.LEGAL_REPRESENTATIVE, register_check_id=register_check_id)
    wanted = set(types)
    reason = "register_not_listed" if listed is False else "no_ground"
    for mandate in mandates:
        if not mandate_in_force(mandate, now):
            if mandate.status != Mandate.Status.INVITED and reason != "outside_scope":
                reason = "mandate_ended"
            continue
        if action not in mandate.actions or not wanted <= mandate.attestation_types:
            reason = "outside_scope"
            continue
        ground = Ground.LEGAL_MANDATE if mandate.kind == Mandate.Kind.LEGAL else Ground.DELEGATE
        return ActingGround(ground, mandate_id=mandate.id)
    messages = {
        "register_not_listed": "The companies register does not list you as a legal representative of this company.",
        "mandate_ended": "Your mandate has ended or been withdrawn.",
        "outside_scope": "Your mandate does not cover this action or these attestations.",
        "no_ground": "You may not act for this subject.",
    }
    return ActingRefused(messages[reason], extra={"reason": reason})


# A delegation is renewed by its grantor at least this often: who works for a company changes.
DELEGATION_LONGEST = dt.timedelta(days=3 * 366)


def delegation_refusal(
    *,
    held: MandateTerms | None,
    types: Collection[str],
    actions: Collection[str],
    valid_until: dt.datetime,
    now: dt.datetime,
    company_types: Collection[str],
) -> str | None:
    """Why a delegation may not be granted (None when it may): a legal representative (`held`
    None) holds every company type and every action; a delegate holds their own mandate, and
    passes on no more of it, nor beyond its end."""
    if not types or not actions:
        return "empty"
    if valid_until <= now:
        return "ends_in_past"
    if valid_until > now + DELEGATION_LONGEST:
        return "too_long"
    if not set(actions) <= set(ACTIONS):
        return "unknown_action"
    if held is None:
        return None if set(types) <= set(company_types) else "unknown_type"
    if not mandate_in_force(held, now):
        return "mandate_ended"
    if not set(types) <= held.attestation_types or not set(actions) <= held.actions:
        return "more_than_held"
    if valid_until > held.valid_until:
        return "beyond_end"
    return None


def mandate_loop(*, agent: object, chain: Iterable[object]) -> bool:
    """Whether accepting a mandate would close a loop: the agent is already one of the people it
    comes from (its grantors, up the chain, and a principal person)."""
    return any(agent == person for person in chain)


def register_office(*, officers: Sequence[Mapping[str, Any]], identity: Subject) -> str | None:
    """The office under which the register's mandataires sociaux list this person, or None.

    Matched on the pivot identity as the register keeps it: birth name and first given name
    (whatever their case, accents or punctuation), date and INSEE code of the place of birth."""
    surname = canonical_name(identity.nom_naissance)
    first = canonical_name(identity.prenoms[0]) if identity.prenoms else ""
    for officer in officers:
        if officer.get("type") != "personne_physique":
            continue
        given = str(officer.get("prenoms", "")).split()
        if (
            canonical_name(str(officer.get("nom", ""))) == surname
            and bool(given)
            and canonical_name(given[0]) == first
            and officer.get("date_naissance") == identity.date_naissance.isoformat()
            and str(officer.get("code_insee_lieu_naissance", "")).upper() == identity.code_cog_lieu_naissance.upper()
        ):
            return str(officer.get("fonction", ""))
    return None
