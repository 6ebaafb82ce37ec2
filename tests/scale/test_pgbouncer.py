"""The gateway behind PgBouncer in transaction mode (Debian's 1.18: no prepared statements), with
fewer server connections than clients, so that requests really take turns on each connection."""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.scale.deployment import SLUG, PgBouncer, Server, access_token, deployed

pytestmark = pytest.mark.scale


@pytest.fixture
def pgbouncer() -> Iterator[PgBouncer]:
    bouncer = PgBouncer(Server.of_test_run(), pool_size=2)
    yield bouncer
    bouncer.stop()


def test_it_migrates_exchanges_and_seals_through_pgbouncer_in_transaction_mode(
    tmp_path: Path, pgbouncer: PgBouncer
) -> None:
    with deployed(
        tmp_path, through=pgbouncer.server, DATABASE_PREPARED_STATEMENTS="0", DATABASE_SERVER_SIDE_CURSORS="0"
    ) as gateway:
        seeded = gateway.seed(12)
        base = gateway.web(workers=2, threads=4)
        token = access_token(base, seeded, f"attestations:{SLUG}")

        def exchange(consent: str) -> int:
            request = urllib.request.Request(f"{base}/api/v1/attestations/{SLUG}?consent={consent}")  # noqa: S310
            request.add_header("Authorization", f"Bearer {token}")
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 - loopback test server
                return int(response.status)

        # Eight clients at once on two server connections, four exchanges per consent.
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(exchange, seeded["consents"] * 4))
        sealed = gateway.manage("audit_seal")

        assert statuses == [200] * 48
        assert gateway.query("SELECT status, count(*) FROM gateway_exchange GROUP BY status") == [("succeeded", 48)]
        events = gateway.query("SELECT count(*) FROM audit_auditevent WHERE type = 'exchange.succeeded'")
        assert events == [(48,)]
        unsealed = gateway.query(
            "SELECT count(*) FROM audit_auditevent e WHERE NOT EXISTS "
            "(SELECT 1 FROM audit_logleaf l WHERE l.event_id = e.id)"
        )
        assert unsealed == [(0,)]
        [(total,)] = gateway.query("SELECT count(*) FROM audit_auditevent")
        assert sealed.strip().startswith(f"sealed: tree size {total} ")
        pools = [row for row in pgbouncer.show("POOLS") if row["database"] == gateway.database]
        stats = [row for row in pgbouncer.show("STATS") if row["database"] == gateway.database]
        assert pools and stats[0]["total_xact_count"] > 48
