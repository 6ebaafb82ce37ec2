"""Two gunicorn instances and two Celery workers sharing nothing but one PostgreSQL database and
one Redis: exchanges, the audit trail's sealing and the rate limits stay correct."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from celery import Celery

from tests.processes import wait_until
from tests.scale.deployment import SLUG, access_token, deployed

pytestmark = pytest.mark.scale

LIMIT = 40
SEAL_RESULT = re.compile(r"Task audit\.tasks\.seal\[[^\]]+\] succeeded in [0-9.]+s: (\d+)")


def test_it_keeps_exchanges_sealing_and_rate_limits_correct_across_instances(tmp_path: Path) -> None:
    with deployed(tmp_path, RATE_LIMIT_PER_MINUTE=str(LIMIT)) as gateway:
        seeded = gateway.seed(12)
        bases = [gateway.web(workers=1, threads=4), gateway.web(workers=1, threads=4)]
        workers = [gateway.worker(), gateway.worker()]
        token = access_token(bases[0], seeded, f"attestations:{SLUG}")
        # Not the current app: the test process's own tasks keep going through the gateway's app.
        sender = Celery(broker=gateway.redis_url, set_as_current=False)
        for worker in workers:
            worker.wait_until(lambda worker=worker: "ready." in worker.log.read_text(errors="replace"), what="ready")

        def exchange(number: int) -> int:
            base, consent = bases[number % 2], seeded["consents"][number % len(seeded["consents"])]
            request = urllib.request.Request(f"{base}/api/v1/attestations/{SLUG}?consent={consent}")  # noqa: S310
            request.add_header("Authorization", f"Bearer {token}")
            try:
                with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback test server
                    return int(response.status)
            except urllib.error.HTTPError as error:
                return error.code

        def seal() -> None:
            sender.send_task("audit.tasks.seal", queue=gateway.queue)

        # The limit counts per minute-long window: all the requests must fall in one.
        wait_until(lambda: time.time() % 60 < 45, timeout=65, what="the first three quarters of a minute")
        with ThreadPoolExecutor(8) as pool:
            answers = pool.map(exchange, range(LIMIT + 8))
            # Both workers seal while the instances insert events.
            for _ in range(12):
                seal()
            statuses = Counter(answers)
        # At least one seal starts after the last exchange committed.
        for _ in range(4):
            seal()

        def unsealed() -> int:
            [(count,)] = gateway.query(
                "SELECT count(*) FROM audit_auditevent e WHERE NOT EXISTS "
                "(SELECT 1 FROM audit_logleaf l WHERE l.event_id = e.id)"
            )
            return int(count)

        for worker in workers:
            worker.wait_until(lambda: unsealed() == 0, what="every event sealed")
        sender.close()
        export = tmp_path / "trail.jsonl"
        gateway.manage("audit_export", "--output", str(export))
        verified = gateway.manage("audit_verify", str(export))
        per_worker = [
            [int(size) for size in SEAL_RESULT.findall(worker.log.read_text(errors="replace"))] for worker in workers
        ]

        assert statuses == {200: LIMIT, 429: 8}
        assert gateway.query("SELECT status, count(*) FROM gateway_exchange GROUP BY status") == [("succeeded", LIMIT)]
        [(events, leaves, distinct_leaves)] = gateway.query(
            "SELECT (SELECT count(*) FROM audit_auditevent), count(*), count(DISTINCT event_id) FROM audit_logleaf"
        )
        assert events == leaves == distinct_leaves
        assert verified.strip().startswith("OK")
        # Both workers (ready before the tasks were sent, each reserving a few at most) took seal
        # tasks; a seal that lost the lock or found nothing returned 0, and no two seals ever
        # signed the same tree size.
        assert all(per_worker), per_worker
        signed = [size for sizes in per_worker for size in sizes if size]
        assert len(signed) == len(set(signed))
        sizes = [size for (size,) in gateway.query("SELECT tree_size FROM audit_checkpoint ORDER BY id")]
        assert sizes == sorted(set(sizes)) and sizes[-1] == events
