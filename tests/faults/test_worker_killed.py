"""A worker killed with SIGKILL in the middle of an asynchronous exchange: every accepted exchange
still completes, exactly once, soon after the dead run's claim lapses (not after Redis's hour-long
visibility timeout)."""

from __future__ import annotations

import json
import signal
import urllib.request
from collections.abc import Callable

import pytest
from django.test import Client

from audit.models import AuditEvent, EventType
from consent.models import Citizen, Consent
from core.tasks import enqueue
from gateway.models import Exchange
from providers.demo import catalogue_load
from providers.models import Organisation
from tests.conftest import SANDBOX_TOKEN, ApiCaller
from tests.faults.conftest import RedisServer
from tests.faults.test_broker_outage import QF, active_consent
from tests.processes import CeleryWorker, wait_until

pytestmark = pytest.mark.faults

# The dying worker's limits: its run holds an exchange for the hard limit + 5 s (async_exchanges).
TIME_LIMIT = 6


def set_latency(sandbox_url: str, milliseconds: int) -> None:
    request = urllib.request.Request(
        f"{sandbox_url}/_sandbox/faults",
        data=json.dumps({"mode": "latency", "latency_ms": milliseconds}).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {SANDBOX_TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - the test's own sandbox
        assert response.status == 200


def test_exchanges_in_flight_on_a_killed_worker_complete_exactly_once(
    broker: RedisServer,
    start_worker: Callable[..., CeleryWorker],
    sandbox_url: str,
    mairie: Organisation,
    make_caller: Callable[..., ApiCaller],
    alice: Citizen,
    client: Client,
) -> None:
    # The attestation types now call the sandbox provider over HTTP, slow enough to kill a run
    # in the middle of its call.
    catalogue_load(adapter_kind="http", base_url=sandbox_url)
    caller = make_caller(mairie, f"consents:read attestations:{QF}")
    consent = active_consent(mairie, caller, alice)
    set_latency(sandbox_url, 20_000)
    doomed = start_worker(CELERY_TASK_TIME_LIMIT=TIME_LIMIT, CELERY_TASK_SOFT_TIME_LIMIT=TIME_LIMIT - 2)

    locations = []
    for _ in range(3):
        response = client.post(
            "/api/v1/exchanges",
            {"attestation_type": QF, "consent": str(consent.pk)},
            content_type="application/json",
            headers=caller.headers,
        )
        assert response.status_code == 202
        locations.append(response["Location"])
    exchanges = Exchange.objects.filter(is_async=True)
    doomed.wait_until(lambda: exchanges.filter(claimed_until__isnull=False).exists(), what="a run holding an exchange")

    doomed.process.send_signal(signal.SIGKILL)
    doomed.process.wait()
    set_latency(sandbox_url, 0)
    survivor = start_worker()

    def all_done() -> bool:
        # What beat does every 15 seconds: the sweep runs again what no live run holds.
        enqueue("gateway.tasks.exchanges_resume")
        return not exchanges.filter(status=Exchange.Status.PENDING).exists()

    wait_until(all_done, timeout=120, interval=2, what="every exchange to complete", context=survivor.log_tail)

    assert set(exchanges.values_list("status", flat=True)) == {Exchange.Status.SUCCEEDED}
    for exchange in exchanges:
        assert AuditEvent.objects.filter(type=EventType.EXCHANGE_SUCCEEDED, exchange_id=exchange.pk).count() == 1
    consent.refresh_from_db()
    assert consent.uses == 3
    for location in locations:
        collected = client.get(location, headers=caller.headers)
        assert collected.status_code == 200 and collected.json()["attestation"]["consent"] == str(consent.pk)
    assert Consent.objects.get(pk=consent.pk).status == Consent.Status.ACTIVE
