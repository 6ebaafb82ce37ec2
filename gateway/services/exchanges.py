"""The exchange: one attestation fetched from its provider for one consumer under one consent.

One pipeline for the synchronous request and the asynchronous task:

    read    `exchange_grant_get`: one query, nothing cached (a revocation is refused on the very
            next request);
    decide  `authorise`: the checks of DESIGN.md Flow 3, pure;
    fetch   the provider adapter, with the consented fields the habilitation also allows, outside
            any transaction (a provider call never holds one open), then sign;
    record  the use of the consent, the Exchange row and the audit event, in one transaction. The
            use is a compare-and-set on the consent's version and use count as `authorise` saw
            them: if the consent moved meanwhile (revoked, paused, its last use taken elsewhere),
            nothing is written, the grant is read and decided again, and a denial is what the
            consumer gets.

A denial or a provider failure is recorded too (row and event) and returns no document.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import DateTimeField, F, IntegerField, UUIDField
from django.utils import timezone

from audit.models import ActorKind, EventType
from audit.services import EVENT_INSERT, Actor, event_row, events_recorded
from consent.models import Consent, HeldResult
from consent.services.lifecycle import consent_expire_if_due
from core.authentication import Caller
from core.compiled import CompiledChain, CompiledInsert, CompiledUpdate
from core.errors import ConsentExpired, ConsentRequired, GatewayError, ProviderError, ProviderTimeout, SubjectNotFound
from core.jose import canonical_payload, sign_jws
from gateway.authorisation import Authorised, Denied, authorise
from gateway.models import Exchange
from gateway.selectors import ConsentTerms, TypeTerms, exchange_grant_get
from gateway.services.results import result_encrypt
from providers.adapters import adapter_for
from providers.adapters.base import FetchContext, ProviderResult

logger = logging.getLogger(__name__)

ATTESTATION_JWS_TYPE = "attestation+jws"
PROVIDER_ERRORS = (SubjectNotFound, ProviderTimeout, ProviderError)
# How often a use is retried when the consent moved between the read and the write but still
# allows the exchange (another exchange took a use meanwhile): beyond that, the caller retries.
USE_ATTEMPTS = 5


@dataclass(frozen=True)
class ExchangeResult:
    exchange_id: uuid.UUID
    attestation: dict[str, Any]
    jws: str

    def as_json(self) -> dict[str, Any]:
        return {"exchange_id": str(self.exchange_id), "attestation": self.attestation, "jws": self.jws}


@dataclass(frozen=True)
class Request:
    """One exchange being served: who asks for what, and when it started (for the record)."""

    caller: Caller
    slug: str
    consent_id: uuid.UUID | None
    exchange_id: uuid.UUID
    started: float
    # Set for an asynchronous exchange: its row exists (pending) and is finished, not created.
    pending: Exchange | None = None

    @property
    def elapsed_ms(self) -> int:
        return int((time.perf_counter() - self.started) * 1000)


class ExchangeAlreadyFinished(Exception):
    """An asynchronous exchange was finished by another run while this one called the provider:
    this run's writes roll back and it delivers nothing."""


# --- Records ---------------------------------------------------------------------------------


def _actor(caller: Caller) -> Actor:
    return Actor(ActorKind.CONSUMER, caller.client_id)


@dataclass(frozen=True)
class _Record:
    """The Exchange row's values (None: no row, the type is unknown) and its event's facts."""

    exchange: dict[str, Any] | None
    event: dict[str, Any]


def _record_of(
    *,
    request: Request,
    attestation_type: TypeTerms | None,
    consent: ConsentTerms | None,
    status: str,
    error_code: str = "",
    authorised: Authorised | None = None,
    document: dict[str, Any] | None = None,
    values: dict[str, Any] | None = None,
) -> _Record:
    fields = list(document["fields"]) if document is not None else list(authorised.fields if authorised else ())
    now = timezone.now()
    row: dict[str, Any] | None = None
    if request.pending is not None or attestation_type is not None:
        row = {
            "consent_id": consent.id if consent is not None else None,
            "purpose_code": consent.purpose_code if consent is not None else "",
            "eidas_level": consent.eidas_level if consent is not None else "",
            "status": status,
            "error_code": error_code,
            "fields": fields,
            "finished_at": now,
            "duration_ms": request.elapsed_ms,
            **(values or {}),
        }
        if request.pending is None and attestation_type is not None:
            row.update(
                id=request.exchange_id,
                consumer_id=request.caller.organisation_id,
                provider_id=attestation_type.holder_id,
                attestation_type_id=attestation_type.id,
                client_id=request.caller.client_id,
                created_at=now,
            )
    subject = consent.subject if consent is not None else None
    event = event_row(
        type=_EVENT_TYPES.get(status, EventType.EXCHANGE_FAILED),
        actor=_actor(request.caller),
        citizen_ref=subject.ref if subject is not None else "",
        consumer=request.caller.organisation_siret,
        provider=attestation_type.holder_siret if attestation_type is not None else "",
        attestation_type=attestation_type.slug if attestation_type is not None else request.slug[:100],
        fields=fields if status == Exchange.Status.SUCCEEDED else (),
        purpose=consent.purpose_code if consent is not None else "",
        consent_id=consent.id if consent is not None else None,
        exchange_id=request.exchange_id if row is not None else None,
        detail={"code": error_code} if error_code else None,
    )
    return _Record(row, event)


_EVENT_TYPES: dict[str, EventType] = {
    Exchange.Status.SUCCEEDED: EventType.EXCHANGE_SUCCEEDED,
    Exchange.Status.DENIED: EventType.EXCHANGE_DENIED,
}

# The exchange's writes, compiled once (core.compiled). A successful synchronous exchange takes
# one use of the consent (a compare-and-set on what `authorise` saw), inserts its row and its
# event, all or nothing: one statement on PostgreSQL.
_USE = CompiledUpdate(
    lambda consent_id, version, uses, now: Consent.objects.filter(pk=consent_id, version=version, uses=uses),
    lambda consent_id, version, uses, now: {"uses": F("uses") + 1, "updated_at": now},
    consent_id=UUIDField(),
    version=IntegerField(),
    uses=IntegerField(),
    now=DateTimeField(),
)
_INSERT_EXCHANGE = CompiledInsert(Exchange)
_SUCCEED = CompiledChain(_USE, _INSERT_EXCHANGE, EVENT_INSERT)


def _use_values(authorised: Authorised) -> dict[str, Any]:
    consent = authorised.consent
    return {"consent_id": consent.id, "version": consent.version, "uses": consent.uses, "now": timezone.now()}


@transaction.atomic
def _write(request: Request, record: _Record) -> None:
    """Writes a record in a transaction of its own (denials, failures, asynchronous results)."""
    if request.pending is not None:
        # Compare-and-set: of two runs of the same task, exactly one finishes the row.
        assert record.exchange is not None
        if not Exchange.objects.filter(pk=request.pending.pk, status=Exchange.Status.PENDING).update(**record.exchange):
            raise ExchangeAlreadyFinished()
    elif record.exchange is not None:
        _INSERT_EXCHANGE.run(**record.exchange)
    EVENT_INSERT.run(**record.event)
    events_recorded()


def _succeed(request: Request, record: _Record, authorised: Authorised, held: HeldResult | None) -> bool:
    """Takes the use and writes the record (and an asynchronous exchange's result, held for its
    consumer), if the consent is still as it was seen."""
    if request.pending is None:
        assert record.exchange is not None
        if not _SUCCEED.run(_use_values(authorised), record.exchange, record.event):
            return False
        events_recorded()
        return True
    with transaction.atomic():
        if not _USE.run(**_use_values(authorised)):
            return False
        _write(request, record)
        if held is not None:
            held.save(force_insert=True)
    return True


def _deny(request: Request, denied: Denied, authorised: Authorised | None = None) -> GatewayError:
    """Records a denial and returns the error to raise."""
    error = denied.error
    if isinstance(error, ConsentExpired) and denied.consent is not None:
        # The time is up but the stored status does not say so yet: make it say so (its own
        # transaction, its own `consent.expired` event), as every reader of a consent does.
        consent_expire_if_due(consent=Consent.objects.get(pk=denied.consent.id))
    record = _record_of(
        request=request,
        attestation_type=denied.type,
        consent=denied.consent,
        status=Exchange.Status.DENIED,
        error_code=error.code,
        authorised=authorised,
    )
    _write(request, record)
    return error


def _fail(request: Request, authorised: Authorised, error: GatewayError) -> GatewayError:
    record = _record_of(
        request=request,
        attestation_type=authorised.type,
        consent=authorised.consent,
        status=Exchange.Status.FAILED,
        error_code=error.code,
        authorised=authorised,
    )
    _write(request, record)
    return error


# --- Delivery --------------------------------------------------------------------------------


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _fetch(request: Request, authorised: Authorised) -> ProviderResult:
    context = FetchContext(
        purpose=authorised.consent.purpose_code,
        consumer_siret=request.caller.organisation_siret,
        exchange_id=request.exchange_id,
    )
    try:
        return adapter_for(authorised.type.target).fetch(authorised.subject.subject, authorised.fields, context)
    except PROVIDER_ERRORS:
        raise
    except Exception as exc:
        # Whatever the adapter let through, the consumer sees one stable code, never its text.
        logger.warning("Adapter for %s raised %s", authorised.type.slug, type(exc).__name__)
        raise ProviderError() from None


def attestation_build(authorised: Authorised, result: ProviderResult) -> dict[str, Any]:
    return {
        "type": authorised.type.slug,
        "issuer": authorised.type.holder_siret,
        "issued_at": _utc(result.issued_at),
        "subject_ref": authorised.subject.ref,
        "consent": str(authorised.consent.id),
        # Only what was asked, whatever the adapter returned.
        "fields": {name: result.fields[name] for name in authorised.fields if name in result.fields},
    }


def exchange_decide(request: Request, consent_id: uuid.UUID | None = None) -> Authorised:
    """Reads and decides; a denial is recorded and raised."""
    grant = exchange_grant_get(caller=request.caller, slug=request.slug, consent_id=consent_id or request.consent_id)
    decision = authorise(grant, request.caller, timezone.now())
    if isinstance(decision, Denied):
        raise _deny(request, decision)
    return decision


def _serve(request: Request, authorised: Authorised, *, keep_result: bool) -> ExchangeResult:
    try:
        result = _fetch(request, authorised)
    except PROVIDER_ERRORS as error:
        raise _fail(request, authorised, error) from None
    attestation = attestation_build(authorised, result)
    jws = sign_jws(attestation, typ=ATTESTATION_JWS_TYPE)
    values: dict[str, Any] = {
        "provider_duration_ms": result.duration_ms,
        "document_sha256": hashlib.sha256(canonical_payload(attestation)).hexdigest(),
    }
    for _ in range(USE_ATTEMPTS):
        record = _record_of(
            request=request,
            attestation_type=authorised.type,
            consent=authorised.consent,
            status=Exchange.Status.SUCCEEDED,
            authorised=authorised,
            document=attestation,
            values=values,
        )
        held = _held(request, authorised, attestation, jws) if keep_result else None
        if _succeed(request, record, authorised, held):
            return ExchangeResult(exchange_id=request.exchange_id, attestation=attestation, jws=jws)
        # The consent moved since it was read: decide again on what it is now.
        decision = exchange_decide(request, authorised.consent.id)
        if decision.fields != authorised.fields or decision.subject != authorised.subject:
            changed = ConsentRequired("The consent changed during the exchange.")
            raise _deny(request, Denied(changed, decision.type, decision.consent), authorised)
        authorised = decision
    busy = ConsentRequired("The consent is in heavy use; try again.")
    raise _deny(request, Denied(busy, authorised.type, authorised.consent), authorised)


def _held(request: Request, authorised: Authorised, attestation: dict[str, Any], jws: str) -> HeldResult:
    """An asynchronous exchange's result, encrypted, held under its consent until collected."""
    return HeldResult(
        exchange_id=request.exchange_id,
        consent_id=authorised.consent.id,
        ciphertext=result_encrypt(exchange_id=request.exchange_id, result={"attestation": attestation, "jws": jws}),
        expires_at=timezone.now() + dt.timedelta(seconds=settings.EXCHANGE_RESULT_TTL_SECONDS),
    )


# --- Entry points ----------------------------------------------------------------------------


def exchange_perform(*, caller: Caller, slug: str, consent_id: uuid.UUID | None) -> ExchangeResult:
    """GET /api/v1/attestations/{slug}: read, decide, fetch, sign, record. Raises the problem."""
    request = Request(caller, slug, consent_id, uuid.uuid4(), time.perf_counter())
    return _serve(request, exchange_decide(request), keep_result=False)


def exchange_complete(request: Request) -> ExchangeResult:
    """Runs a pending asynchronous exchange (`request.pending`), outside any transaction: the
    checks again (the consent may have moved since it was submitted), then the same delivery,
    the result kept encrypted on the row. Raises ExchangeAlreadyFinished when another run
    finished the row first (nothing of this run is kept)."""
    return _serve(request, exchange_decide(request), keep_result=True)
