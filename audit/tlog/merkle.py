"""RFC 9162 Merkle tree hashing and proof checks (Certificate Transparency 2.0, §2.1).

leaf = SHA-256(0x00 || canonical JSON of the event), node = SHA-256(0x01 || left || right), and
the root of the empty tree is SHA-256 of the empty string.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from typing import Any

from .canonical import canonical_json

EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256
_digest = type(_sha256()).digest


def leaf_hash(event: dict[str, Any]) -> bytes:
    return _sha256(b"\x00" + canonical_json(event)).digest()


def leaf_hashes(canonical_events: Iterable[bytes]) -> list[bytes]:
    """`leaf_hash` of many events given as their canonical JSON, in a C-level loop."""
    return list(map(_digest, map(_sha256, map(b"\x00".__add__, canonical_events))))


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def parent_level(hashes: Sequence[bytes]) -> list[bytes]:
    """Parents of consecutive pairs; an odd last hash has no parent at this level."""
    return [_sha256(b"\x01" + a + b).digest() for a, b in zip(hashes[0::2], hashes[1::2], strict=False)]


def root_from_leaves(hashes: Sequence[bytes]) -> bytes:
    """RFC 9162 MTH over leaf hashes, level by level.

    Carrying an odd last node up unchanged builds the same tree as the RFC's split at the
    largest power of two below n, without recursion.
    """
    if not hashes:
        return EMPTY_ROOT
    level = list(hashes)
    while len(level) > 1:
        parents = parent_level(level)
        if len(level) & 1:
            parents.append(level[-1])
        level = parents
    return level[0]


class CompactRange:
    """Roots of a growing prefix: the perfect subtrees covering leaves [0, size)."""

    def __init__(self, size: int = 0, stack: list[tuple[int, bytes]] | None = None) -> None:
        self.size = size
        self.stack: list[tuple[int, bytes]] = stack if stack is not None else []

    def copy(self) -> CompactRange:
        return CompactRange(self.size, list(self.stack))

    def extend(self, leaves: Sequence[bytes], end: int) -> None:
        """Absorb leaves[self.size:end] in aligned perfect blocks, each hashed level by level."""
        while self.size < end:
            level = (end - self.size).bit_length() - 1
            if self.size:
                level = min(level, (self.size & -self.size).bit_length() - 1)
            block = leaves[self.size : self.size + (1 << level)]
            self.size += 1 << level
            height = 0
            while len(block) > 1:
                block = parent_level(block)
                height += 1
            self._push(height, block[0])

    def _push(self, level: int, digest: bytes) -> None:
        while self.stack and self.stack[-1][0] == level:
            digest = node_hash(self.stack.pop()[1], digest)
            level += 1
        self.stack.append((level, digest))

    def root(self) -> bytes:
        if not self.stack:
            return EMPTY_ROOT
        digest = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            digest = node_hash(left, digest)
        return digest


def verify_inclusion(leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2."""
    if index < 0 or index >= tree_size:
        return False
    fn, sn = index, tree_size - 1
    r = leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2, plus the two trivial cases the RFC leaves out (0 < first < second)."""
    if first < 0 or first > second:
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        # Every tree extends the empty one; an empty proof is the only honest answer.
        return not proof and first_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_root and sr == second_root and sn == 0
