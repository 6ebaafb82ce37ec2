"""The stored-node Merkle log against a naive RFC 9162 reference and the offline verifier."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import merkle
from audit.tlog.merkle import (
    EMPTY_ROOT,
    node_hash,
    root_from_leaves,
    verify_consistency,
    verify_inclusion,
)

MAX_SIZE = 40


def _leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


# RFC 9162 §2.1, transcribed recursively on purpose: the code under test is iterative.
def ref_mth(leaves: list[bytes]) -> bytes:
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = 1 << ((len(leaves) - 1).bit_length() - 1)
    return node_hash(ref_mth(leaves[:k]), ref_mth(leaves[k:]))


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1 << ((n - 1).bit_length() - 1)
    if m < k:
        return ref_path(m, leaves[:k]) + [ref_mth(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [ref_mth(leaves)]
    k = 1 << ((n - 1).bit_length() - 1)
    if m <= k:
        return ref_subproof(m, leaves[:k], b) + [ref_mth(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [ref_mth(leaves[:k])]


def ref_consistency(m: int, leaves: list[bytes]) -> list[bytes]:
    return ref_subproof(m, leaves, True)


LEAVES = [_leaf(b"event-%d" % i) for i in range(MAX_SIZE)]


@pytest.fixture(scope="module")
def store() -> merkle.MemoryNodeStore:
    # Nodes never change once complete, so one log of 40 leaves serves every smaller size.
    log = merkle.MemoryNodeStore()
    for leaf in LEAVES:
        log.append([leaf])
    return log


def _flip(proof: list[bytes], item: int, byte: int) -> list[bytes]:
    changed = bytearray(proof[item])
    changed[byte] ^= 0x01
    return [*proof[:item], bytes(changed), *proof[item + 1 :]]


def test_it_reproduces_the_certificate_transparency_roots_for_the_rfc_6962_test_leaves() -> None:
    data = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43", bytes(range(0x50, 0x58))]
    data.append(bytes(range(0x60, 0x70)))
    expected = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
    log = merkle.MemoryNodeStore()
    leaves = [_leaf(d) for d in data]
    for size, want in enumerate(expected, 1):
        assert log.append([leaves[size - 1]]).root.hex() == want
        assert root_from_leaves(leaves[:size]).hex() == want
        assert merkle.root(size, log).hex() == want


def test_it_gives_the_empty_tree_the_hash_of_the_empty_string() -> None:
    empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert root_from_leaves([]).hex() == empty
    assert merkle.root(0, merkle.MemoryNodeStore()).hex() == empty


def test_it_computes_every_root_from_one_batched_read_of_the_frontier(store: merkle.MemoryNodeStore) -> None:
    for size in range(1, MAX_SIZE + 1):
        store.reads = store.keys_read = 0
        assert merkle.root(size, store) == ref_mth(LEAVES[:size]) == root_from_leaves(LEAVES[:size])
        assert (store.reads, store.keys_read) == (1, bin(size).count("1"))


def test_it_builds_the_rfc_inclusion_proof_for_every_leaf_of_every_size(store: merkle.MemoryNodeStore) -> None:
    for size in range(1, MAX_SIZE + 1):
        root = ref_mth(LEAVES[:size])
        for index in range(size):
            store.reads = store.keys_read = 0
            proof = merkle.inclusion_proof(index, size, store)
            assert store.reads == (1 if size > 1 else 0)
            assert store.keys_read <= 2 * size.bit_length()
            assert proof == ref_path(index, LEAVES[:size])
            assert verify_inclusion(LEAVES[index], index, size, proof, root)


def test_it_reads_the_leaf_with_its_inclusion_proof_in_one_batch(store: merkle.MemoryNodeStore) -> None:
    for size in range(1, MAX_SIZE + 1):
        for index in range(size):
            store.reads = 0
            leaf, proof = merkle.inclusion_proof_with_leaf(index, size, store)
            assert store.reads == 1
            assert (leaf, proof) == (LEAVES[index], ref_path(index, LEAVES[:size]))
    with pytest.raises(ValueError):
        merkle.inclusion_proof_with_leaf(MAX_SIZE, MAX_SIZE, store)


def test_it_rejects_an_inclusion_proof_with_any_byte_index_or_root_changed(store: merkle.MemoryNodeStore) -> None:
    for size in range(1, MAX_SIZE + 1):
        root = ref_mth(LEAVES[:size])
        bad_root = _flip([root], 0, 31)[0]
        for index in range(size):
            proof = merkle.inclusion_proof(index, size, store)
            for item in range(len(proof)):
                for byte in range(32):
                    assert not verify_inclusion(LEAVES[index], index, size, _flip(proof, item, byte), root)
            for other in range(size + 1):
                if other != index:
                    assert not verify_inclusion(LEAVES[index], other, size, proof, root)
            assert not verify_inclusion(LEAVES[index], index, size, proof, bad_root)
            assert not verify_inclusion(LEAVES[index], index, size, [*proof, root], root)
            if proof:
                assert not verify_inclusion(LEAVES[index], index, size, proof[:-1], root)


def test_it_builds_the_rfc_consistency_proof_for_every_pair_of_sizes(store: merkle.MemoryNodeStore) -> None:
    for second in range(1, MAX_SIZE + 1):
        second_root = ref_mth(LEAVES[:second])
        for first in range(second + 1):
            store.reads = store.keys_read = 0
            proof = merkle.consistency_proof(first, second, store)
            if 0 < first < second:
                assert store.reads == 1
                assert store.keys_read <= 2 * second.bit_length()
                assert proof == ref_consistency(first, LEAVES[:second])
            else:
                assert (proof, store.reads) == ([], 0)
            assert verify_consistency(first, second, ref_mth(LEAVES[:first]), second_root, proof)


def test_it_rejects_a_consistency_proof_with_any_byte_or_either_root_changed(store: merkle.MemoryNodeStore) -> None:
    for second in range(2, MAX_SIZE + 1):
        second_root = ref_mth(LEAVES[:second])
        for first in range(1, second):
            first_root = ref_mth(LEAVES[:first])
            proof = merkle.consistency_proof(first, second, store)
            for item in range(len(proof)):
                for byte in range(32):
                    assert not verify_consistency(first, second, first_root, second_root, _flip(proof, item, byte))
            assert not verify_consistency(first, second, _flip([first_root], 0, 0)[0], second_root, proof)
            assert not verify_consistency(first, second, first_root, _flip([second_root], 0, 0)[0], proof)
            assert not verify_consistency(first, second, first_root, second_root, proof[:-1])
            assert not verify_consistency(first, second, first_root, second_root, [*proof, first_root])
            assert not verify_consistency(second, first, second_root, first_root, proof)


def test_it_treats_equal_sizes_and_the_empty_tree_as_consistent_only_with_an_empty_proof() -> None:
    root = ref_mth(LEAVES[:5])
    assert verify_consistency(5, 5, root, root, [])
    assert not verify_consistency(5, 5, root, ref_mth(LEAVES[:4]), [])
    assert not verify_consistency(5, 5, root, root, [root])
    assert verify_consistency(0, 5, EMPTY_ROOT, root, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, root, [root])


@settings(max_examples=40, deadline=None)
@given(
    total=st.integers(min_value=1, max_value=300),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=12),
)
def test_it_gives_the_same_roots_and_nodes_whatever_the_batch_splits(total: int, cuts: list[int]) -> None:
    leaves = [_leaf(b"%d" % i) for i in range(total)]
    bounds = sorted({0, total, *(c for c in cuts if c < total)})
    log = merkle.MemoryNodeStore()
    for start, end in zip(bounds, bounds[1:], strict=False):
        log.reads = log.keys_read = 0
        result = log.append(leaves[start:end])
        assert result.new_size == end
        assert result.root == root_from_leaves(leaves[:end])
        assert (log.reads, log.keys_read) == ((1, bin(start).count("1")) if start else (0, 0))
    complete = {(lv, i) for lv in range(total.bit_length()) for i in range(total >> lv)}
    assert set(log.nodes) == complete
    for (lv, i), digest in log.nodes.items():
        assert digest == ref_mth(leaves[i << lv : (i + 1) << lv])


def test_it_returns_exactly_the_nodes_a_batch_completes() -> None:
    log = merkle.MemoryNodeStore()
    log.append(LEAVES[:5])
    result = log.append(LEAVES[5:8])
    assert set(result.new_nodes) == {(0, 5), (0, 6), (0, 7), (1, 3), (1, 2), (2, 1), (3, 0)}
    assert result.root == ref_mth(LEAVES[:8])


def test_it_refuses_proofs_outside_the_tree_and_reports_missing_nodes(store: merkle.MemoryNodeStore) -> None:
    with pytest.raises(ValueError):
        merkle.inclusion_proof(5, 5, store)
    with pytest.raises(ValueError):
        merkle.consistency_proof(6, 5, store)
    with pytest.raises(merkle.MissingNodeError):
        merkle.inclusion_proof(0, MAX_SIZE + 8, store)
    with pytest.raises(merkle.MissingNodeError):
        merkle.append(3, merkle.MemoryNodeStore(), [LEAVES[0]])
