"""Reads from a real streaming hot standby: a second PostgreSQL cluster made from the first with
pg_basebackup, replaying its WAL. Pausing the replay makes the replica visibly behind, which shows
which reads it serves, and the freshness rule."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from core.replicas import PRIMARY_COOKIE
from tests.processes import wait_until
from tests.scale.deployment import SLUG, StreamingPair, access_token, deployed

pytestmark = pytest.mark.scale


@pytest.fixture
def replication() -> Iterator[StreamingPair]:
    pair = StreamingPair()
    yield pair
    pair.stop()


def tree_size(session: requests.Session, base: str) -> int:
    response = session.get(f"{base}/api/v1/audit/checkpoint", timeout=30)
    assert response.status_code == 200, response.text
    return int(response.text.splitlines()[1])


def test_it_reads_the_trail_from_the_standby_and_the_primary_after_acting(
    tmp_path: Path, replication: StreamingPair
) -> None:
    with deployed(tmp_path, primary=replication.primary, replica=replication.standby) as gateway:
        seeded = gateway.seed(4)
        base = gateway.web(workers=1, threads=2)
        token = access_token(base, seeded, f"attestations:{SLUG}")
        consumer = requests.Session()
        consumer.headers["Authorization"] = f"Bearer {token}"

        def exchange(consent: str) -> None:
            response = consumer.get(f"{base}/api/v1/attestations/{SLUG}", params={"consent": consent}, timeout=60)
            assert response.status_code == 200, response.text

        exchange(seeded["consents"][0])
        gateway.manage("audit_seal")
        wait_until(replication.caught_up, what="the standby replaying the first seal")
        reader = requests.Session()
        before = tree_size(reader, base)

        replication.replay_pause()
        exchange(seeded["consents"][1])
        exchange(seeded["consents"][2])
        gateway.manage("audit_seal")
        [(latest,)] = gateway.query("SELECT max(tree_size) FROM audit_checkpoint")

        # The checkpoint is read from the standby, which has not replayed the new seal.
        assert latest > before
        assert tree_size(reader, base) == before
        # A proof in a tree the standby lacks comes from the primary.
        proof = reader.get(
            f"{base}/api/v1/audit/proofs/inclusion", params={"index": latest - 1, "tree_size": latest}, timeout=30
        )
        assert proof.status_code == 200, proof.text
        assert proof.json()["tree_size"] == latest
        # The freshness rule: a client that has just acted reads the primary.
        acted = requests.Session()
        response = acted.post(
            f"{base}/oauth/token/",
            data={"grant_type": "client_credentials", "scope": f"attestations:{SLUG}"},
            auth=(seeded["client_id"], seeded["client_secret"]),
            timeout=30,
        )
        assert response.status_code == 200, response.text
        assert PRIMARY_COOKIE in acted.cookies
        assert tree_size(acted, base) == latest
        assert tree_size(reader, base) == before

        replication.replay_resume()
        wait_until(replication.caught_up, what="the standby catching up")
        assert tree_size(reader, base) == latest


def test_a_replica_past_the_lag_threshold_leaves_the_read_rotation_and_readyz_says_so(
    tmp_path: Path, replication: StreamingPair
) -> None:
    with deployed(
        tmp_path,
        primary=replication.primary,
        replica=replication.standby,
        DATABASE_REPLICA_MAX_LAG_SECONDS="1",
        DATABASE_REPLICA_LAG_CHECK_SECONDS="0",
    ) as gateway:
        seeded = gateway.seed(3)
        base = gateway.web(workers=1, threads=2)
        token = access_token(base, seeded, f"attestations:{SLUG}")
        consumer = requests.Session()
        consumer.headers["Authorization"] = f"Bearer {token}"
        reader = requests.Session()

        def replica_state() -> dict[str, object]:
            response = reader.get(f"{base}/readyz", timeout=30)
            # The node stays ready whatever its replicas do: their reads go to the primary.
            assert response.status_code == 200, response.text
            replicas: dict[str, dict[str, object]] = response.json()["replicas"]
            return replicas["replica_0"]

        gateway.manage("audit_seal")
        wait_until(replication.caught_up, what="the standby replaying the first seal")
        assert replica_state() == {"status": "ok", "in_rotation": True, "lag_seconds": 0.0}

        replication.replay_pause()
        response = consumer.get(
            f"{base}/api/v1/attestations/{SLUG}", params={"consent": seeded["consents"][0]}, timeout=60
        )
        assert response.status_code == 200, response.text
        gateway.manage("audit_seal")
        [(latest,)] = gateway.query("SELECT max(tree_size) FROM audit_checkpoint")

        wait_until(lambda: replica_state()["status"] == "lagging", timeout=30, what="readyz reporting the lag")
        lagging = replica_state()
        assert lagging["in_rotation"] is False
        assert float(lagging["lag_seconds"]) > 1  # type: ignore[arg-type]
        # Out of the rotation: a client that has not acted reads the new checkpoint, from the primary.
        assert tree_size(reader, base) == latest

        replication.replay_resume()
        wait_until(replication.caught_up, what="the standby catching up")
        assert replica_state()["in_rotation"] is True
        assert tree_size(reader, base) == latest
