"""`authorise`: the exchange's checks, in the order DESIGN.md Flow 3 gives them, stated once.

    scope `attestations:<slug>` → the type is offered → a habilitation in force → the consent is
    this consumer's (the token's bound one, else the named one) and covers the type → it is usable
    now (active, in its window, under its use limit) → the citizen's login level at consent time
    is at least the type's minimum → some consented field is also allowed by the habilitation.

A pure function of the grant (what the database said), the caller and the time: no I/O, no
writes. The synchronous and asynchronous exchanges both call it, and call it again when the
consent moved between the read and the write.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from consent.rules import consent_denial
from core.authentication import Caller
from core.errors import (
    ConsentRequired,
    GatewayError,
    HabilitationMissing,
    LoaInsufficient,
    NotFound,
    ScopeMissing,
)
from gateway.oauth.scopes import attestation_scope
from gateway.selectors import ConsentTerms, Grant, HabilitationTerms, SubjectTerms, TypeTerms
from providers.rules import eidas_satisfies, habilitation_in_force


@dataclass(frozen=True)
class Denied:
    """A refusal, and what the checks had established when they stopped: the type (when offered)
    and the consent (once the checks reached it), which the refusal's record names."""

    error: GatewayError
    type: TypeTerms | None = None
    consent: ConsentTerms | None = None


@dataclass(frozen=True)
class Authorised:
    """A request that may be served now: what to fetch, for whom, under which consent."""

    type: TypeTerms
    habilitation: HabilitationTerms
    consent: ConsentTerms
    subject: SubjectTerms
    fields: tuple[str, ...]


def authorise(grant: Grant, caller: Caller, now: dt.datetime) -> Authorised | Denied:
    """The decision on `grant` for `caller` at `now`: Authorised, or the typed denial."""
    offered = grant.type if grant.type is not None and grant.type.active else None
    scope = attestation_scope(grant.slug)
    if not caller.has_scope(scope):
        return Denied(ScopeMissing(f"This operation needs the scope {scope}."), offered)
    attestation_type = offered
    if attestation_type is None:
        return Denied(NotFound("No attestation type has this slug."))
    today = timezone.localdate(now)
    habilitation = next(
        (
            h
            for h in grant.habilitations
            if habilitation_in_force(status=h.status, valid_until=h.valid_until, type_active=True, today=today)
        ),
        None,
    )
    if habilitation is None:
        return Denied(HabilitationMissing(), attestation_type)
    bound, requested = grant.bound_consent_id, grant.requested_consent_id
    if bound is not None and requested is not None and bound != requested:
        return Denied(ConsentRequired("This token is bound to another consent."), attestation_type)
    if bound is None and requested is None:
        return Denied(ConsentRequired("Name the consent (?consent=) this request relies on."), attestation_type)
    consent = grant.consent
    if consent is None:
        return Denied(NotFound("No such consent."), attestation_type)
    if grant.item_fields is None:
        return Denied(ConsentRequired("The consent does not cover this attestation type."), attestation_type, consent)
    denial = consent_denial(
        status=consent.status,
        valid_from=consent.valid_from,
        valid_until=consent.valid_until,
        max_uses=consent.max_uses,
        uses=consent.uses,
        now=now,
    )
    if denial is None and consent.subject is None:
        denial = ConsentRequired("The consent is not active.")
    if denial is None and not eidas_satisfies(consent.eidas_level, attestation_type.eidas_min):
        denial = LoaInsufficient(extra={"required_level": attestation_type.eidas_min})
    allowed = set(habilitation.fields)
    fields = tuple(name for name in grant.item_fields if name in allowed)
    if denial is None and not fields:
        denial = ConsentRequired("No consented field is covered by the habilitation in force.")
    if denial is not None or consent.subject is None:
        return Denied(denial or ConsentRequired(), attestation_type, consent)
    return Authorised(
        type=attestation_type, habilitation=habilitation, consent=consent, subject=consent.subject, fields=fields
    )
