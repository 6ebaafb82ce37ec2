"""Asynchronous exchanges: POST /api/v1/exchanges accepts, a Celery task runs, GET collects.

Submission runs every check now (a denial answers at once, as the synchronous endpoint would) and
records a pending Exchange; the task runs the checks again when it starts (the consent may have
been revoked meanwhile) and then the same delivery as the synchronous path. The signed result is
kept encrypted on the row until the consumer collects it, once, or EXCHANGE_RESULT_TTL_SECONDS.
"""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.correlation import get_correlation_id
from core.errors import GatewayError, IdempotencyConflict, NotFound
from gateway.models import Exchange
from gateway.services.exchanges import (
    Attempt,
    Caller,
    ExchangeAlreadyFinished,
    exchange_checks_run,
    exchange_complete,
    exchange_denied_record,
    exchange_scope_check,
)
from gateway.services.results import result_decrypt


class ResultGone(GatewayError):
    code = "result_gone"
    status = 410
    title = "The result was already collected or has expired"


def _problem_for(code: str) -> dict[str, Any]:
    """The problem body of a recorded error code, as the synchronous endpoint would have sent it."""
    pending = list(GatewayError.__subclasses__())
    while pending:
        error_class = pending.pop()
        if error_class.code == code:
            return error_class().problem()
        pending.extend(error_class.__subclasses__())
    return GatewayError().problem()


def _same_request(exchange: Exchange, slug: str, consent_id: uuid.UUID | None) -> bool:
    return exchange.attestation_type.slug == slug and (consent_id is None or exchange.consent_id == consent_id)


def exchange_submit(
    *, caller: Caller, slug: str, consent_id: uuid.UUID | None, idempotency_key: str = ""
) -> tuple[Exchange, bool]:
    """Returns the pending exchange and whether it is new (False: an Idempotency-Key replay)."""
    if idempotency_key:
        existing = (
            Exchange.objects.select_related("attestation_type")
            .filter(consumer=caller.organisation, idempotency_key=idempotency_key)
            .first()
        )
        if existing is not None:
            # A replay hands back what the first request started: only to a token that could have.
            exchange_scope_check(caller, existing.attestation_type.slug)
            if not _same_request(existing, slug, consent_id):
                raise IdempotencyConflict()
            return existing, False
    attempt = Attempt(exchange_id=uuid.uuid4(), slug=slug)
    try:
        exchange_checks_run(attempt, caller, consent_id)
    except GatewayError as error:
        exchange_denied_record(attempt=attempt, caller=caller, error=error)
        raise
    assert attempt.attestation_type is not None and attempt.consent is not None
    try:
        with transaction.atomic():
            exchange = Exchange.objects.create(
                id=attempt.exchange_id,
                consumer=caller.organisation,
                provider=attempt.attestation_type.holder,
                attestation_type=attempt.attestation_type,
                consent=attempt.consent,
                client_id=caller.client_id,
                fields=attempt.fields,
                purpose_code=attempt.consent.purpose_code,
                eidas_level=attempt.consent.eidas_level,
                is_async=True,
                idempotency_key=idempotency_key,
            )
            from gateway.tasks import exchange_run

            exchange_id, correlation_id = str(exchange.pk), get_correlation_id()
            transaction.on_commit(lambda: exchange_run.delay(exchange_id, correlation_id))
    except IntegrityError:
        # The same key, submitted concurrently: the other request created it first.
        existing = Exchange.objects.select_related("attestation_type").get(
            consumer=caller.organisation, idempotency_key=idempotency_key
        )
        exchange_scope_check(caller, existing.attestation_type.slug)
        if not _same_request(existing, slug, consent_id):
            raise IdempotencyConflict() from None
        return existing, False
    return exchange, True


def exchange_run_pending(*, exchange_id: uuid.UUID) -> None:
    """The task's body. Idempotent: a finished exchange is left, and of two runs of the same one
    (a redelivered task) only the first to finish commits; the other's writes roll back.

    No transaction is held across the provider call: a slow provider would otherwise keep a
    database connection idle in transaction, and the row locked, for as long as it takes."""
    exchange = (
        Exchange.objects.select_related("consumer", "attestation_type__holder")
        .filter(pk=exchange_id, status=Exchange.Status.PENDING)
        .first()
    )
    if exchange is None:
        return
    # A denial or failure is recorded on the row, for the consumer to collect.
    with contextlib.suppress(GatewayError, ExchangeAlreadyFinished):
        exchange_complete(exchange=exchange)


def exchange_get_for_consumer(*, caller: Caller, exchange_id: uuid.UUID) -> Exchange:
    exchange = (
        Exchange.objects.select_related("attestation_type")
        .filter(pk=exchange_id, consumer=caller.organisation, is_async=True)
        .first()
    )
    if exchange is None:
        raise NotFound("No such exchange.")
    return exchange


def exchange_collect(*, caller: Caller, exchange_id: uuid.UUID) -> dict[str, Any]:
    """The state of an asynchronous exchange; a result is handed over once, then wiped."""
    exchange = exchange_get_for_consumer(caller=caller, exchange_id=exchange_id)
    # The organisation alone is not enough: another of its tokens may lack this type's scope.
    exchange_scope_check(caller, exchange.attestation_type.slug)
    body: dict[str, Any] = {"exchange_id": str(exchange.pk), "status": exchange.status}
    if exchange.status == Exchange.Status.PENDING:
        return body
    if exchange.status != Exchange.Status.SUCCEEDED:
        body["problem"] = _problem_for(exchange.error_code)
        return body
    with transaction.atomic():
        row = Exchange.objects.select_for_update().get(pk=exchange.pk)
        ciphertext, expires_at = row.result_ciphertext, row.result_expires_at
        if ciphertext is not None:
            row.result_ciphertext = None
            row.save(update_fields=["result_ciphertext"])
    if ciphertext is None or expires_at is None or expires_at <= timezone.now():
        raise ResultGone()
    body.update(result_decrypt(exchange_id=exchange.pk, ciphertext=bytes(ciphertext)))
    return body


def exchange_results_purge() -> int:
    """Wipes the results nobody collected in time."""
    return Exchange.objects.filter(result_ciphertext__isnull=False, result_expires_at__lte=timezone.now()).update(
        result_ciphertext=None
    )
