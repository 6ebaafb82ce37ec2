"""A citizen's proof checked step by step, for a page that shows each step and says "verified"
only when every one holds: the same checks as `audit.tlog.export.verify_bundle`, one at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audit.tlog.errors import VerificationError
from audit.tlog.merkle import leaf_hash, verify_inclusion
from audit.tlog.note import open_note, parse_checkpoint


@dataclass(frozen=True)
class Step:
    # fingerprint | signature | size | path
    code: str
    ok: bool
    # What was computed or read (hashes in hex, sizes), for the curious and for auditors.
    detail: str = ""


@dataclass(frozen=True)
class ProofCheck:
    steps: list[Step]

    @property
    def verified(self) -> bool:
        return len(self.steps) == 4 and all(step.ok for step in self.steps)


def proof_check(bundle: dict[str, Any], verifier_key: str) -> ProofCheck:
    """Each step of the check, stopping at the first that fails (later ones would mean nothing)."""
    steps: list[Step] = []
    try:
        leaf = leaf_hash(bundle["event"])
    except (KeyError, TypeError, ValueError):
        return ProofCheck([Step("fingerprint", False)])
    steps.append(Step("fingerprint", True, leaf.hex()))
    try:
        checkpoint = parse_checkpoint(open_note(str(bundle.get("checkpoint", "")), verifier_key))
    except (VerificationError, ValueError):
        return ProofCheck([*steps, Step("signature", False)])
    steps.append(Step("signature", True, f"{checkpoint.origin} · {checkpoint.size} · {checkpoint.root.hex()}"))
    index, size = bundle.get("leaf_index"), bundle.get("tree_size")
    if type(index) is not int or size != checkpoint.size or not 0 <= index < checkpoint.size:
        return ProofCheck([*steps, Step("size", False)])
    steps.append(Step("size", True, f"{index + 1} / {size}"))
    try:
        path = [bytes.fromhex(step) for step in bundle.get("inclusion_proof", [])]
    except (TypeError, ValueError):
        path = []
        reached = False
    else:
        reached = all(len(p) == 32 for p in path) and verify_inclusion(leaf, index, size, path, checkpoint.root)
    return ProofCheck([*steps, Step("path", reached, f"{len(path)}")])
