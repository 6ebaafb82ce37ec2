"""The log's Merkle tree as stored nodes: appends, roots and RFC 9162 proofs in O(log n) reads.

A node is keyed (level, index): the perfect subtree of 2**level leaves starting at leaf
index * 2**level; level 0 holds the leaf hashes. Only such complete nodes are ever stored, so a
node never changes once written, which is what lets the tables be append-only. A subtree on the
right edge of the tree that is not perfect is hashed on demand from the complete nodes that
tile it, at most one per level.

Every operation first works out which keys it needs, then asks the reader for all of them in one
batched call (one query against the database), then hashes in memory. Hashing itself lives in
`audit.tlog.merkle`, so the server and the offline verifier cannot disagree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from audit.tlog.merkle import EMPTY_ROOT, node_hash, parent_level

Key = tuple[int, int]


class NodeReader(Protocol):
    def get_nodes(self, keys: Sequence[Key]) -> dict[Key, bytes]: ...


@dataclass
class AppendResult:
    new_nodes: dict[Key, bytes]
    new_size: int
    root: bytes


class MissingNodeError(LookupError):
    pass


class MemoryNodeStore:
    """Dict-backed NodeReader for tests and the embedded default; counts batched reads."""

    def __init__(self) -> None:
        self.nodes: dict[Key, bytes] = {}
        self.size = 0
        self.reads = 0
        self.keys_read = 0

    def get_nodes(self, keys: Sequence[Key]) -> dict[Key, bytes]:
        self.reads += 1
        self.keys_read += len(keys)
        return {key: self.nodes[key] for key in keys if key in self.nodes}

    def append(self, leaf_hashes: list[bytes]) -> AppendResult:
        result = append(self.size, self, leaf_hashes)
        self.nodes.update(result.new_nodes)
        self.size = result.new_size
        return result


def _tiling(start: int, end: int) -> list[Key]:
    """Complete nodes tiling [start, end), largest first; start must be aligned for the range.

    Every range the RFC recursion produces is: it starts at a multiple of a power of two that is
    at least its length.
    """
    keys = []
    while start < end:
        level = (end - start).bit_length() - 1
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def _fold(hashes: list[bytes]) -> bytes:
    # RFC 9162 MTH splits at the largest power of two, so a tiling folds from the right.
    digest = hashes[-1]
    for left in reversed(hashes[:-1]):
        digest = node_hash(left, digest)
    return digest


def _fetch(reader: NodeReader, ranges: list[tuple[int, int]]) -> list[bytes]:
    """Hashes of the subtrees over `ranges`, with one batched read for all their tiles."""
    tilings = [_tiling(start, end) for start, end in ranges]
    wanted = list(dict.fromkeys(key for tiling in tilings for key in tiling))
    found = reader.get_nodes(wanted) if wanted else {}
    missing = [key for key in wanted if key not in found]
    if missing:
        raise MissingNodeError(f"nodes not stored: {missing[:5]}")
    return [_fold([found[key] for key in tiling]) for tiling in tilings]


def frontier_keys(size: int) -> list[Key]:
    """The complete subtrees whose fold is the root of a tree of `size` leaves."""
    return _tiling(0, size)


def append(frontier_size: int, frontier_reader: NodeReader, new_leaf_hashes: list[bytes]) -> AppendResult:
    """Every complete node that appending `new_leaf_hashes` creates, and the new root.

    Reads only the frontier (one node per set bit of `frontier_size`) in one batched call.
    """
    if frontier_size < 0:
        raise ValueError("negative tree size")
    old_frontier: dict[Key, bytes] = {}
    keys = frontier_keys(frontier_size)
    if keys and new_leaf_hashes:
        old_frontier = frontier_reader.get_nodes(keys)
        missing = [key for key in keys if key not in old_frontier]
        if missing:
            raise MissingNodeError(f"frontier nodes not stored: {missing}")
    new_size = frontier_size + len(new_leaf_hashes)
    new_nodes: dict[Key, bytes] = {}
    level, first, row = 0, frontier_size, list(new_leaf_hashes)
    while row:
        new_nodes.update(zip(((level, first + i) for i in range(len(row))), row, strict=True))
        if first & 1:
            # An odd first index means its left sibling is complete already: the frontier node
            # of this level, the only old node a new parent can need.
            row = [old_frontier[(level, first - 1)], *row]
            first -= 1
        row = parent_level(row)
        level += 1
        first >>= 1
    if new_size == frontier_size:
        return AppendResult({}, new_size, root(frontier_size, frontier_reader))
    tiles = [new_nodes.get(key) or old_frontier[key] for key in frontier_keys(new_size)]
    return AppendResult(new_nodes, new_size, _fold(tiles))


def root(size: int, reader: NodeReader) -> bytes:
    if size < 0:
        raise ValueError("negative tree size")
    if size == 0:
        return EMPTY_ROOT
    return _fetch(reader, [(0, size)])[0]


def _split(n: int) -> int:
    """RFC 9162 k: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def inclusion_proof(index: int, size: int, reader: NodeReader) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(index, D[0:size]), leaf-side sibling first."""
    return _fetch(reader, _inclusion_ranges(index, size))


def inclusion_proof_with_leaf(index: int, size: int, reader: NodeReader) -> tuple[bytes, list[bytes]]:
    """The leaf hash at `index` and its inclusion proof, from the same single batched read."""
    *proof, leaf = _fetch(reader, [*_inclusion_ranges(index, size), (index, index + 1)])
    return leaf, proof


def _inclusion_ranges(index: int, size: int) -> list[tuple[int, int]]:
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of size {size}")
    ranges = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = _split(hi - lo)
        if index - lo < k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
    ranges.reverse()
    return ranges


def consistency_proof(m: int, n: int, reader: NodeReader) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(m, D[0:n]); empty when m is 0 or n."""
    if not 0 <= m <= n:
        raise ValueError(f"no consistency proof from {m} to {n}")
    if m in (0, n):
        return []
    ranges = []
    lo, hi, complete = 0, n, True
    while True:
        if m == hi:
            # SUBPROOF(m, D[m], b): nothing if m is the whole original tree, else its hash.
            if not complete:
                ranges.append((lo, hi))
            break
        k = _split(hi - lo)
        if m - lo <= k:
            ranges.append((lo + k, hi))
            hi = lo + k
        else:
            ranges.append((lo, lo + k))
            lo += k
            complete = False
    ranges.reverse()
    return _fetch(reader, ranges)
