"""The exchange: one attestation fetched from its provider for one consumer under one consent.

Every request runs the checks of DESIGN.md Flow 3 in this order, reading the database afresh each
time (nothing is cached, so a revocation is refused on the very next request):

    token valid (DRF, before we get here) → scope `attestations:<slug>` → habilitation in force →
    consent of this consumer (404 otherwise), covering this type, active, in its window, under its
    use limit → the citizen's login level at consent time ≥ the type's minimum.

Then the provider adapter is called with the consented fields that the habilitation also allows,
outside any transaction (a provider call never holds a database transaction open), the result is
signed, and the Exchange row, the consent's use counter and the audit event commit together. A
denial or a provider failure is recorded too (row and event), and returns no document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone
from oauth2_provider.models import AccessToken

from audit.models import ActorKind, EventType
from audit.services import Actor, event_record
from consent.models import Consent
from consent.selectors import consent_for_exchange
from consent.services.lifecycle import consent_expire_if_due
from consent.services.preview import citizen_subject
from core.errors import (
    ConsentExpired,
    ConsentPaused,
    ConsentRequired,
    ConsentRevoked,
    GatewayError,
    HabilitationMissing,
    LoaInsufficient,
    NotFound,
    ProviderError,
    ProviderTimeout,
    ScopeMissing,
    SubjectNotFound,
    UsageLimitReached,
)
from core.keys import canonical_payload, sign_jws
from gateway.models import Exchange
from gateway.oauth.scopes import attestation_scope
from gateway.rows import execute_rowcount, related_set, row_insert
from gateway.services.results import result_encrypt
from providers.adapters import adapter_for
from providers.adapters.base import FetchContext, ProviderResult
from providers.models import AttestationType, EidasLevel, Habilitation, Organisation
from providers.selectors import exchange_grant_for_consumer, habilitation_in_force

logger = logging.getLogger(__name__)

ATTESTATION_JWS_TYPE = "attestation+jws"
PROVIDER_ERRORS = (SubjectNotFound, ProviderTimeout, ProviderError)


@dataclass(frozen=True)
class Caller:
    """Who asks: the consumer organisation, through one OAuth client, with one token (none when a
    Celery task finishes an exchange the token already authorised)."""

    organisation: Organisation
    client_id: str
    access_token: AccessToken | None = None

    @property
    def actor(self) -> Actor:
        return Actor(ActorKind.CONSUMER, self.client_id)


@dataclass
class Attempt:
    """What the checks established so far; a denial records whatever is known."""

    exchange_id: uuid.UUID
    slug: str
    started: float = field(default_factory=time.perf_counter)
    attestation_type: AttestationType | None = None
    habilitation: Habilitation | None = None
    consent: Consent | None = None
    fields: list[str] = field(default_factory=list)

    @property
    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)


@dataclass(frozen=True)
class ExchangeResult:
    exchange: Exchange
    attestation: dict[str, Any]
    jws: str

    def as_json(self) -> dict[str, Any]:
        return {"exchange_id": str(self.exchange.pk), "attestation": self.attestation, "jws": self.jws}


class _ConsentMoved(Exception):
    """The consent changed between the checks and the commit (revoked, or its last use taken)."""


class ExchangeAlreadyFinished(Exception):
    """An asynchronous exchange was finished by another run (a duplicate or redelivered task) while
    this one called the provider: this run's writes roll back and it delivers nothing."""


# --- Checks ----------------------------------------------------------------------------------


def exchange_scope_check(caller: Caller, slug: str) -> None:
    """Raises ScopeMissing unless the caller's token carries `attestations:<slug>` (a task, with
    no token, ran under the token that submitted the exchange)."""
    if caller.access_token is not None and not caller.access_token.allow_scopes([attestation_scope(slug)]):
        raise ScopeMissing(f"This operation needs the scope {attestation_scope(slug)}.")


def _consent_id(caller: Caller, requested: uuid.UUID | None, bound: uuid.UUID | None) -> uuid.UUID:
    if bound is not None:
        if requested is not None and requested != bound:
            raise ConsentRequired("This token is bound to another consent.")
        return bound
    if requested is None:
        raise ConsentRequired("Name the consent (?consent=) this request relies on.")
    return requested


def consent_state_check(consent: Consent, *, now: dt.datetime | None = None) -> Consent:
    """Raises the problem that stops this consent from serving an exchange right now."""
    now = now or timezone.now()
    status = Consent.Status
    if consent.status in (status.ACTIVE, status.PAUSED) and consent.valid_until and consent.valid_until <= now:
        consent_expire_if_due(consent=consent)
        raise ConsentExpired()
    if consent.status == status.PAUSED:
        raise ConsentPaused()
    if consent.status == status.REVOKED:
        raise ConsentRevoked()
    if consent.status == status.EXPIRED:
        raise ConsentExpired()
    if consent.status != status.ACTIVE or consent.citizen_id is None:
        raise ConsentRequired("The consent is not active.")
    if consent.valid_from and consent.valid_from > now:
        raise ConsentRequired("The consent is not valid yet.")
    if consent.max_uses is not None and consent.uses >= consent.max_uses:
        raise UsageLimitReached()
    return consent


def _authorise(
    attempt: Attempt, caller: Caller, consent_id: uuid.UUID | None, habilitation: Habilitation | None
) -> None:
    """The checks after the scope, in order; fills `attempt` as it goes. Two queries, both read
    afresh: `habilitation` (read with the type) and the consent with its item for this type."""
    attestation_type = attempt.attestation_type
    assert attestation_type is not None
    attempt.habilitation = habilitation
    if habilitation is None:
        raise HabilitationMissing()
    found = consent_for_exchange(
        consumer=caller.organisation,
        consent_id=consent_id,
        access_token_id=caller.access_token.pk if caller.access_token is not None else None,
        attestation_type_id=attestation_type.pk,
    )
    _consent_id(caller, consent_id, found.bound_consent_id)
    consent = found.consent_or_404()
    attempt.consent = consent
    if found.item is None:
        raise ConsentRequired("The consent does not cover this attestation type.")
    consent_state_check(consent)
    if EidasLevel.rank(consent.eidas_level) < EidasLevel.rank(attestation_type.eidas_min):
        raise LoaInsufficient(extra={"required_level": attestation_type.eidas_min})
    allowed = set(habilitation.fields)
    attempt.fields = [name for name in found.item.fields if name in allowed]
    if not attempt.fields:
        raise ConsentRequired("No consented field is covered by the habilitation in force.")


def exchange_checks_run(attempt: Attempt, caller: Caller, consent_id: uuid.UUID | None) -> None:
    # Read first (with the habilitation, in one query) only so that a denial can name the type;
    # the scope is still checked first.
    grant = exchange_grant_for_consumer(consumer=caller.organisation, slug=attempt.slug)
    attempt.attestation_type = grant.attestation_type if grant is not None else None
    exchange_scope_check(caller, attempt.slug)
    if grant is None:
        raise NotFound("No attestation type has this slug.")
    _authorise(attempt, caller, consent_id, grant.habilitation)


# --- Records ---------------------------------------------------------------------------------


def _event(
    *, type: EventType, attempt: Attempt, caller: Caller, exchange: Exchange | None, detail: dict[str, Any] | None
) -> None:
    consent = attempt.consent
    attestation_type = attempt.attestation_type
    event_record(
        type=type,
        actor=caller.actor,
        citizen_ref=consent.citizen.ref if consent is not None and consent.citizen is not None else "",
        consumer=caller.organisation.siret,
        provider=attestation_type.holder.siret if attestation_type is not None else "",
        attestation_type=attestation_type.slug if attestation_type is not None else attempt.slug[:100],
        fields=attempt.fields if type == EventType.EXCHANGE_SUCCEEDED else (),
        purpose=consent.purpose_code if consent is not None else "",
        consent_id=consent.pk if consent is not None else None,
        exchange_id=exchange.pk if exchange is not None else None,
        detail=detail,
    )


def _save_exchange(attempt: Attempt, caller: Caller, existing: Exchange | None, **values: Any) -> Exchange | None:
    """Creates (or, for an asynchronous one, updates) the Exchange row; none without a type."""
    if attempt.attestation_type is None:
        return None
    consent = attempt.consent
    common = {
        "purpose_code": consent.purpose_code if consent is not None else "",
        "eidas_level": consent.eidas_level if consent is not None else "",
        "finished_at": timezone.now(),
        "duration_ms": attempt.elapsed_ms,
        **values,
    }
    if existing is not None:
        # Compare-and-set: only a still pending row is finished, so of two runs of the same task
        # (the provider is called outside any transaction) exactly one commits.
        if not Exchange.objects.filter(pk=existing.pk, status=Exchange.Status.PENDING).update(
            consent=consent, **common
        ):
            raise ExchangeAlreadyFinished()
        existing.consent = consent
        for name, value in common.items():
            setattr(existing, name, value)
        return existing
    # The synchronous exchange's hot write: one prepared INSERT rather than the ORM's compiled one.
    exchange = row_insert(
        Exchange,
        id=attempt.exchange_id,
        consumer_id=caller.organisation.pk,
        provider_id=attempt.attestation_type.holder_id,
        attestation_type_id=attempt.attestation_type.pk,
        consent_id=consent.pk if consent is not None else None,
        client_id=caller.client_id,
        created_at=common["finished_at"],
        **common,
    )
    related_set(exchange, "consumer", caller.organisation)
    related_set(exchange, "provider", attempt.attestation_type.holder)
    related_set(exchange, "attestation_type", attempt.attestation_type)
    related_set(exchange, "consent", consent)
    return exchange


@transaction.atomic
def exchange_denied_record(
    *, attempt: Attempt, caller: Caller, error: GatewayError, existing: Exchange | None = None
) -> Exchange | None:
    if isinstance(error, NotFound):
        # A consent of another consumer is not named in this consumer's records.
        attempt.consent = None
    exchange = _save_exchange(
        attempt, caller, existing, status=Exchange.Status.DENIED, error_code=error.code, fields=attempt.fields
    )
    _event(
        type=EventType.EXCHANGE_DENIED, attempt=attempt, caller=caller, exchange=exchange, detail={"code": error.code}
    )
    return exchange


@transaction.atomic
def exchange_failed_record(
    *, attempt: Attempt, caller: Caller, error: GatewayError, existing: Exchange | None = None
) -> Exchange | None:
    exchange = _save_exchange(
        attempt, caller, existing, status=Exchange.Status.FAILED, error_code=error.code, fields=attempt.fields
    )
    _event(
        type=EventType.EXCHANGE_FAILED, attempt=attempt, caller=caller, exchange=exchange, detail={"code": error.code}
    )
    return exchange


# --- Delivery --------------------------------------------------------------------------------


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _fetch(attempt: Attempt, caller: Caller) -> ProviderResult:
    assert attempt.attestation_type is not None and attempt.consent is not None
    assert attempt.consent.citizen is not None
    context = FetchContext(
        purpose=attempt.consent.purpose_code, consumer_siret=caller.organisation.siret, exchange_id=attempt.exchange_id
    )
    try:
        return adapter_for(attempt.attestation_type).fetch(
            citizen_subject(attempt.consent.citizen), attempt.fields, context
        )
    except PROVIDER_ERRORS:
        raise
    except Exception as exc:
        # Whatever the adapter let through, the consumer sees one stable code, never its text.
        logger.warning("Adapter for %s raised %s", attempt.attestation_type.slug, type(exc).__name__)
        raise ProviderError() from None


def attestation_build(attempt: Attempt, result: ProviderResult) -> dict[str, Any]:
    assert attempt.attestation_type is not None and attempt.consent is not None
    assert attempt.consent.citizen is not None
    return {
        "type": attempt.attestation_type.slug,
        "issuer": attempt.attestation_type.holder.siret,
        "issued_at": _utc(result.issued_at),
        "subject_ref": attempt.consent.citizen.ref,
        "consent": str(attempt.consent.pk),
        # Only what was asked, whatever the adapter returned.
        "fields": {name: result.fields[name] for name in attempt.fields if name in result.fields},
    }


def _use_consent_sql() -> str:
    table = connection.ops.quote_name(Consent._meta.db_table)
    return (
        f"UPDATE {table} SET uses = uses + 1, updated_at = %(now)s "  # noqa: S608 - table name only
        "WHERE id = %(id)s AND status = %(active)s AND (valid_until IS NULL OR valid_until > %(now)s) "
        "AND (max_uses IS NULL OR uses < max_uses)"
    )


def _use_consent(consent: Consent) -> None:
    """One use, taken atomically: a concurrent revoke or the last use taken elsewhere wins.
    (Hand-written SQL: the ORM's compilation of this one-row update cost more than the update.)"""
    params = {"now": timezone.now(), "id": consent.pk, "active": Consent.Status.ACTIVE.value}
    if not execute_rowcount(_use_consent_sql(), params):
        raise _ConsentMoved()


def _moved_denial(consent: Consent) -> GatewayError:
    """Why the use could not be taken, read again from the row that changed."""
    try:
        consent_state_check(Consent.objects.select_related("citizen").get(pk=consent.pk))
    except GatewayError as changed:
        return changed
    return ConsentRequired("The consent changed during the exchange.")


def _deliver(attempt: Attempt, caller: Caller, *, existing: Exchange | None = None) -> ExchangeResult:
    try:
        result = _fetch(attempt, caller)
    except PROVIDER_ERRORS as error:
        exchange_failed_record(attempt=attempt, caller=caller, error=error, existing=existing)
        raise
    attestation = attestation_build(attempt, result)
    jws = sign_jws(attestation, typ=ATTESTATION_JWS_TYPE)
    assert attempt.consent is not None
    kept: dict[str, Any] = {}
    if existing is not None:
        # Asynchronous: the consumer collects the result later; until then it is kept encrypted.
        kept["result_ciphertext"] = result_encrypt(
            exchange_id=attempt.exchange_id, result={"attestation": attestation, "jws": jws}
        )
        kept["result_expires_at"] = timezone.now() + dt.timedelta(seconds=settings.EXCHANGE_RESULT_TTL_SECONDS)
    try:
        with transaction.atomic():
            _use_consent(attempt.consent)
            exchange = _save_exchange(
                attempt,
                caller,
                existing,
                status=Exchange.Status.SUCCEEDED,
                error_code="",
                fields=list(attestation["fields"]),
                provider_duration_ms=result.duration_ms,
                document_sha256=hashlib.sha256(canonical_payload(attestation)).hexdigest(),
                **kept,
            )
            assert exchange is not None
            _event(type=EventType.EXCHANGE_SUCCEEDED, attempt=attempt, caller=caller, exchange=exchange, detail=None)
    except _ConsentMoved:
        denial = _moved_denial(attempt.consent)
        exchange_denied_record(attempt=attempt, caller=caller, error=denial, existing=existing)
        raise denial from None
    return ExchangeResult(exchange=exchange, attestation=attestation, jws=jws)


# --- Entry points ----------------------------------------------------------------------------


def exchange_perform(*, caller: Caller, slug: str, consent_id: uuid.UUID | None) -> ExchangeResult:
    """GET /api/v1/attestations/{slug}: checks, fetch, sign, record. Raises the problem otherwise."""
    attempt = Attempt(exchange_id=uuid.uuid4(), slug=slug)
    try:
        exchange_checks_run(attempt, caller, consent_id)
    except GatewayError as error:
        exchange_denied_record(attempt=attempt, caller=caller, error=error)
        raise
    return _deliver(attempt, caller)


def exchange_attempt_for(exchange: Exchange) -> tuple[Attempt, Caller]:
    """An asynchronous exchange's row, turned back into what the checks need."""
    attempt = Attempt(exchange_id=exchange.pk, slug=exchange.attestation_type.slug)
    attempt.attestation_type = exchange.attestation_type
    caller = Caller(organisation=exchange.consumer, client_id=exchange.client_id)
    return attempt, caller


def exchange_complete(*, exchange: Exchange) -> ExchangeResult:
    """Runs a pending asynchronous exchange (its token was checked when it was submitted).

    Call it outside any transaction: the provider call must not hold one open. Raises
    ExchangeAlreadyFinished when another run finished the row first (nothing of this run is kept)."""
    attempt, caller = exchange_attempt_for(exchange)
    try:
        habilitation = habilitation_in_force(consumer=caller.organisation, attestation_type=exchange.attestation_type)
        _authorise(attempt, caller, exchange.consent_id, habilitation)
    except GatewayError as error:
        exchange_denied_record(attempt=attempt, caller=caller, error=error, existing=exchange)
        raise
    return _deliver(attempt, caller, existing=exchange)
