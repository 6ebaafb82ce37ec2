"""Asynchronous exchanges: POST /api/v1/exchanges accepts, a Celery task runs, GET collects.

Submission runs every check now (a denial answers at once, as the synchronous endpoint would) and
records a pending Exchange; the task runs the checks again when it starts (the consent may have
been revoked meanwhile) and then the same delivery as the synchronous path. The signed result is
held encrypted under its consent (consent.HeldResult) until the consumer collects it, once, or
EXCHANGE_RESULT_TTL_SECONDS, or the consent stops serving.

Nothing accepted is lost: the pending row is written before the task is enqueued (after the
commit); a run claims the row for as long as a run may last; a sweep runs again what no run holds,
whether its message was lost with a broker that was down or its worker was killed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
import uuid
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from audit.models import ActorKind, EventType
from audit.services import Actor, event_record
from consent.models import HeldResult
from consent.rules import consent_denial
from core.authentication import Caller
from core.correlation import get_correlation_id
from core.errors import GatewayError, IdempotencyConflict, NotFound, ResultGone, ScopeMissing, error_class
from core.tasks import enqueue_on_commit
from gateway.models import Exchange
from gateway.oauth.scopes import attestation_scope
from gateway.services.exchanges import ExchangeAlreadyFinished, Request, exchange_complete, exchange_decide
from gateway.services.results import result_decrypt


def claim_seconds() -> int:
    """How long a run holds its exchange: past Celery's hard time limit, a run is dead (killed)."""
    return int(settings.CELERY_TASK_TIME_LIMIT) + 5


# A pending exchange never claimed this long after it was accepted lost its message.
RESUME_AFTER_SECONDS = 30


def _problem_for(code: str) -> dict[str, Any]:
    """The problem body of a recorded error code, as the synchronous endpoint would have sent it."""
    return (error_class(code) or GatewayError)().problem()


def _same_request(exchange: Exchange, slug: str, consent_id: uuid.UUID | None) -> bool:
    return exchange.attestation_type.slug == slug and (consent_id is None or exchange.consent_id == consent_id)


def _caller_of(exchange: Exchange) -> Caller:
    """The caller of a pending exchange, for the worker that runs it: the token that submitted it
    carried the type's scope (checked then); the consent is named on the row."""
    return Caller(
        client_id=exchange.client_id,
        organisation_id=exchange.consumer_id,
        organisation_siret=exchange.consumer.siret,
        client_scopes=frozenset(),
        token_scopes=frozenset({attestation_scope(exchange.attestation_type.slug)}),
        access_token_id=None,
    )


def exchange_submit(
    *, caller: Caller, slug: str, consent_id: uuid.UUID | None, idempotency_key: str = ""
) -> tuple[Exchange, bool]:
    """Returns the pending exchange and whether it is new (False: an Idempotency-Key replay)."""
    if idempotency_key:
        existing = (
            Exchange.objects.select_related("attestation_type")
            .filter(consumer_id=caller.organisation_id, idempotency_key=idempotency_key)
            .first()
        )
        if existing is not None:
            return _replayed(caller, existing, slug, consent_id), False
    request = Request(caller, slug, consent_id, uuid.uuid4(), time.perf_counter())
    authorised = exchange_decide(request)
    try:
        with transaction.atomic():
            exchange = Exchange.objects.create(
                id=request.exchange_id,
                consumer_id=caller.organisation_id,
                provider_id=authorised.type.holder_id,
                attestation_type_id=authorised.type.id,
                consent_id=authorised.consent.id,
                client_id=caller.client_id,
                fields=list(authorised.fields),
                purpose_code=authorised.consent.purpose_code,
                eidas_level=authorised.consent.eidas_level,
                is_async=True,
                idempotency_key=idempotency_key,
            )
            enqueue_on_commit("gateway.tasks.exchange_run", str(exchange.pk), get_correlation_id())
    except IntegrityError:
        # The same key, submitted concurrently: the other request created it first.
        existing = Exchange.objects.select_related("attestation_type").get(
            consumer_id=caller.organisation_id, idempotency_key=idempotency_key
        )
        return _replayed(caller, existing, slug, consent_id), False
    return exchange, True


def _replayed(caller: Caller, existing: Exchange, slug: str, consent_id: uuid.UUID | None) -> Exchange:
    # A replay hands back what the first request started: only to a token that could have.
    _scope_check(caller, existing.attestation_type.slug)
    if not _same_request(existing, slug, consent_id):
        raise IdempotencyConflict()
    return existing


def _scope_check(caller: Caller, slug: str) -> None:
    if not caller.has_scope(attestation_scope(slug)):
        raise ScopeMissing(f"This operation needs the scope {attestation_scope(slug)}.")


def exchange_claim(*, exchange_id: uuid.UUID) -> Exchange | None:
    """Claims a pending asynchronous exchange for this run until the task's time limit has passed
    (Celery kills a run that takes longer), or returns None: finished, or another run holds it.
    One conditional UPDATE: two runs of the same exchange never both call the provider."""
    now = timezone.now()
    claimed = (
        Exchange.objects.filter(pk=exchange_id, status=Exchange.Status.PENDING, is_async=True)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + dt.timedelta(seconds=claim_seconds()))
    )
    if not claimed:
        return None
    return Exchange.objects.select_related("consumer", "attestation_type").get(pk=exchange_id)


def exchange_run_pending(*, exchange_id: uuid.UUID) -> None:
    """The task's body. Idempotent and exactly once: a finished exchange, or one another run holds,
    is left alone; a run killed mid-way leaves a claim that expires, and the sweep
    (`exchanges_resume_due`) runs the exchange again.

    No transaction is held across the provider call: a slow provider would otherwise keep a
    database connection idle in transaction, and the row locked, for as long as it takes."""
    exchange = exchange_claim(exchange_id=exchange_id)
    if exchange is None:
        return
    request = Request(
        _caller_of(exchange),
        exchange.attestation_type.slug,
        exchange.consent_id,
        exchange.pk,
        time.perf_counter(),
        pending=exchange,
    )
    # A denial or failure is recorded on the row, for the consumer to collect.
    with contextlib.suppress(GatewayError, ExchangeAlreadyFinished):
        exchange_complete(request)


def exchanges_resume_due(*, limit: int = 500) -> list[uuid.UUID]:
    """The pending asynchronous exchanges nobody runs: never claimed for a while (their message was
    lost with a broker that was down), or claimed by a run that died (its claim expired)."""
    now = timezone.now()
    never_run = Q(claimed_until__isnull=True, created_at__lt=now - dt.timedelta(seconds=RESUME_AFTER_SECONDS))
    abandoned = Q(claimed_until__lt=now)
    due = Exchange.objects.filter(never_run | abandoned, status=Exchange.Status.PENDING, is_async=True)
    return list(due.order_by("created_at").values_list("pk", flat=True)[:limit])


def exchange_get_for_consumer(*, caller: Caller, exchange_id: uuid.UUID) -> Exchange:
    exchange = (
        Exchange.objects.select_related("attestation_type")
        .filter(pk=exchange_id, consumer_id=caller.organisation_id, is_async=True)
        .first()
    )
    if exchange is None:
        raise NotFound("No such exchange.")
    return exchange


def exchange_collect(*, caller: Caller, exchange_id: uuid.UUID) -> dict[str, Any]:
    """The state of an asynchronous exchange; a result is handed over once (an `exchange.collected`
    event), then wiped. A consent that stopped serving (revoked, paused, expired) dropped it."""
    exchange = exchange_get_for_consumer(caller=caller, exchange_id=exchange_id)
    # The organisation alone is not enough: another of its tokens may lack this type's scope.
    _scope_check(caller, exchange.attestation_type.slug)
    body: dict[str, Any] = {"exchange_id": str(exchange.pk), "status": exchange.status}
    if exchange.status == Exchange.Status.PENDING:
        return body
    if exchange.status != Exchange.Status.SUCCEEDED:
        body["problem"] = _problem_for(exchange.error_code)
        return body
    now = timezone.now()
    with transaction.atomic():
        held = HeldResult.objects.select_for_update().select_related("consent").filter(exchange_id=exchange.pk).first()
        if held is None:
            raise ResultGone()
        consent = held.consent
        ended = consent_denial(
            status=consent.status,
            valid_from=consent.valid_from,
            valid_until=consent.valid_until,
            max_uses=None,  # the use was taken when the result was made
            uses=consent.uses,
            now=now,
        )
        held.delete()
        if held.expires_at > now and ended is None:
            event_record(
                type=EventType.EXCHANGE_COLLECTED,
                actor=Actor(ActorKind.CONSUMER, caller.client_id),
                citizen_ref=consent.subject_ref,
                consumer=caller.organisation_siret,
                attestation_type=exchange.attestation_type.slug,
                purpose=consent.purpose_code,
                consent_id=consent.pk,
                exchange_id=exchange.pk,
            )
    if held.expires_at <= now or ended is not None:
        # Wiped (committed above) and refused: it outlived its time or its consent.
        raise ResultGone("The result expired, or its consent ended, before it was collected.")
    body.update(result_decrypt(exchange_id=exchange.pk, ciphertext=bytes(held.ciphertext)))
    return body


def exchange_results_purge() -> int:
    """Wipes the results nobody collected in time."""
    deleted, _ = HeldResult.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted
