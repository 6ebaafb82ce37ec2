"""Public checkpoint, key and proof endpoints: every proof of a small log verifies offline."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from audit.models import AuditEvent, Checkpoint, LogLeaf
from audit.sealer import log_seal, log_verifier_key
from audit.selectors import inclusion_proof_get
from audit.tlog.merkle import EMPTY_ROOT, verify_consistency, verify_inclusion
from audit.tlog.note import open_note, parse_checkpoint

BATCHES = (1, 1, 2, 3, 1, 5)  # sizes 1, 2, 4, 7, 8, 13


@pytest.fixture
def small_log(record: Callable[..., AuditEvent]) -> list[int]:
    sizes = []
    for batch in BATCHES:
        for _ in range(batch):
            record(citizen_ref="ab" * 32)
        checkpoint = log_seal()
        assert checkpoint is not None
        sizes.append(checkpoint.tree_size)
    return sizes


def _root(client: Client, size: int) -> bytes:
    note = Checkpoint.objects.get(tree_size=size).note
    return parse_checkpoint(open_note(note, log_verifier_key())).root


class TestPublicEndpoints:
    def test_it_serves_the_latest_checkpoint_as_a_signed_note(self, client: Client, small_log: list[int]) -> None:
        response = client.get("/api/v1/audit/checkpoint", HTTP_ACCEPT="text/plain")

        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/plain")
        key = client.get("/api/v1/audit/public-key").content.decode().strip()
        assert key == log_verifier_key()
        checkpoint = parse_checkpoint(open_note(response.content.decode(), key))
        assert checkpoint.size == 13

    def test_it_answers_404_before_the_first_checkpoint(self, client: Client, db: None) -> None:
        response = client.get("/api/v1/audit/checkpoint")

        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


class TestProofs:
    def test_every_inclusion_proof_verifies(self, client: Client, small_log: list[int]) -> None:
        leaves = [bytes(h) for h in LogLeaf.objects.order_by("index").values_list("hash", flat=True)]
        for size in small_log:
            root = _root(client, size)
            for index in range(size):
                body = client.get(f"/api/v1/audit/proofs/inclusion?index={index}&tree_size={size}").json()
                proof = [bytes.fromhex(h) for h in body["inclusion_proof"]]
                assert body["leaf_hash"] == leaves[index].hex()
                assert verify_inclusion(leaves[index], index, size, proof, root), (index, size)
                if proof:
                    tampered = [bytes([proof[0][0] ^ 1]) + proof[0][1:], *proof[1:]]
                    assert not verify_inclusion(leaves[index], index, size, tampered, root)
                assert not verify_inclusion(leaves[index], index, size, proof, EMPTY_ROOT)

    def test_every_consistency_proof_verifies(self, client: Client, small_log: list[int]) -> None:
        for first in small_log:
            for second in small_log:
                if first > second:
                    continue
                body = client.get(f"/api/v1/audit/proofs/consistency?first={first}&second={second}").json()
                proof = [bytes.fromhex(h) for h in body["consistency_proof"]]
                first_root, second_root = _root(client, first), _root(client, second)
                assert verify_consistency(first, second, first_root, second_root, proof), (first, second)
                if proof:
                    tampered = [*proof[:-1], bytes([proof[-1][0] ^ 1]) + proof[-1][1:]]
                    assert not verify_consistency(first, second, first_root, second_root, tampered)

    def test_the_latest_size_is_the_default(self, client: Client, small_log: list[int]) -> None:
        body = client.get("/api/v1/audit/proofs/inclusion?index=3").json()

        assert body["tree_size"] == 13

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("index=abc", "index"),
            ("index=-1", "index"),
            ("", "index"),
            ("index=13&tree_size=13", "index"),
            ("index=0&tree_size=5", "tree_size"),
            ("index=0&tree_size=0", "tree_size"),
        ],
    )
    def test_bad_inclusion_params_are_400(self, client: Client, small_log: list[int], query: str, field: str) -> None:
        events = AuditEvent.objects.count()

        response = client.get(f"/api/v1/audit/proofs/inclusion?{query}")

        assert response.status_code == 400
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "validation_error"
        assert field in response.json()["errors"]
        assert AuditEvent.objects.count() == events

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ("first=2", "second"),
            ("first=7&second=4", "first"),
            ("first=3&second=7", "first"),
            ("first=4&second=9", "second"),
        ],
    )
    def test_bad_consistency_params_are_400(self, client: Client, small_log: list[int], query: str, field: str) -> None:
        response = client.get(f"/api/v1/audit/proofs/consistency?{query}")

        assert response.status_code == 400
        assert response.json()["code"] == "validation_error"
        assert field in response.json()["errors"]


class TestProofCost:
    def test_a_proof_takes_a_constant_number_of_queries_whatever_the_size(self, record: Callable[..., Any]) -> None:
        counts = []
        for _ in range(3):
            for _ in range(40):
                record()
            size = log_seal()
            assert size is not None
            with CaptureQueriesContext(connection) as queries:
                inclusion_proof_get(index=size.tree_size // 3)
            counts.append(len(queries))

        assert counts == [2, 2, 2]  # the checkpoint, then the leaf and its path in one read
