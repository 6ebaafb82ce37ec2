"""The export (`gateway-audit-export/1`) and proof-bundle verifier; docs/trail.md is the spec.

An export is JSON Lines, UTF-8, one object per line:

    {"kind":"header","format":"gateway-audit-export/1","origin":O,"verifier_key":K}
    {"kind":"event","index":0,"event":{...}}
    {"kind":"event","index":1,"leaf_hash":"<64 hex>","event":{...}}
    ...
    {"kind":"checkpoint","note":"<signed note text>"}
    ...

- The header comes first. Its `verifier_key` is a convenience, not a trust anchor: pass the key
  obtained out of band and the verifier insists that the header names the same key.
- Event lines follow with `index` contiguous from 0. `event` is the object whose canonical JSON
  was hashed. Exporters write it canonically and keep the member order above, so the verifier
  hashes the bytes as they stand without parsing them (the fast path; pass the lines as bytes,
  e.g. a file opened in binary mode, to skip decoding them too); any other layout is parsed and
  canonicalized, so a re-serialized export still verifies, only slower.
- `leaf_hash` is optional and untrusted: the log's stored leaf hash, used only to locate a bad
  event (see below), never to decide that an event is good.
- Checkpoint lines come last, in non-decreasing tree size; the sealer signs one per batch and
  the exporter includes all of them up to the exported size. Every exported event must be covered
  by a checkpoint: events beyond the last one are reported as `unsigned`.

Where the first bad event is (`VerificationError.index`). Call F the smallest index whose event
in the export is not the one the log signed at that index (altered, missing or misplaced). A
signature only vouches for a root, so the verifier can only narrow F down to the span between
two checkpoints, and it reports exactly what it can prove:

- `verified` is the size of the longest prefix proven authentic: the largest checkpoint size
  whose signed root equals the root recomputed from the export (refined by hints, below).
- `leaf_mismatch`: F lies in [index, upper), with index == verified and upper the size of the
  first checkpoint whose root differs. If every event in that span carries a `leaf_hash` and
  those hashes, with the verified prefix, rebuild the signed root, they are the signed leaves
  (a forged hint cannot reproduce a signed root without a SHA-256 collision), so F is the first
  event whose recomputed hash differs from its hint: upper == index + 1, exact. Otherwise the
  answer is the span, which is exact when the sealer signed one checkpoint per event.
- `order` (an event line whose `index` is not its position: deletion, swap, duplicate) and
  `malformed` on an event line: the line at position `index` is wrong; the events before
  `verified` are proven intact, those in [verified, index) could not be checked because no
  checkpoint ends inside the intact prefix. F lies in [verified, index].
- `truncated`: a checkpoint (or the trusted `latest_checkpoint`) covers more events than the
  export holds; index = number of exported events, the first missing one.
- A truncation that also drops every later checkpoint is invisible offline; pass a checkpoint
  fetched independently (`latest_checkpoint`) to rule it out.

Checkpoint faults have no event index: `bad_signature` (forged, signed by another key, body
altered), `origin_mismatch`, `key_mismatch`, `order` (sizes going down), `inconsistent_checkpoint`
(two validly signed roots that cannot both describe this log: the log itself equivocated).
A proof bundle fails with `malformed`, `bad_signature`, `size_mismatch` or `root_mismatch`.
"""

from __future__ import annotations

import binascii
import hashlib
import io
import json
import re
from array import array
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from .canonical import canonical_json
from .errors import VerificationError
from .merkle import CompactRange, leaf_hash, root_from_leaves, verify_inclusion
from .note import Checkpoint, open_note, parse_checkpoint, parse_verifier_key

EXPORT_FORMAT = "gateway-audit-export/1"

_sha256 = hashlib.sha256


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@dataclass
class Report:
    tree_size: int
    checkpoints_checked: int
    root: str
    ok: bool = True
    key_source: str = "argument"


def export_header_line(origin: str, verifier_key: str) -> str:
    header = {"kind": "header", "format": EXPORT_FORMAT, "origin": origin, "verifier_key": verifier_key}
    return _dumps(header) + "\n"


def export_event_line(index: int, event: dict[str, Any], leaf_hash: bytes | None = None) -> str:
    return export_event_line_json(index, canonical_json(event).decode(), leaf_hash)


def export_event_line_json(index: int, event_json: str, leaf_hash: bytes | None = None) -> str:
    """An event line around `event_json`, which must already be the event's canonical JSON."""
    hint = f'"leaf_hash":"{leaf_hash.hex()}",' if leaf_hash is not None else ""
    return f'{{"kind":"event","index":{index},{hint}"event":{event_json}}}\n'


def export_checkpoint_line(note: str) -> str:
    return _dumps({"kind": "checkpoint", "note": note}) + "\n"


# The exporter's exact byte layout: the event member is taken verbatim and hashed. Matched on
# bytes, so an export read in binary mode is never decoded and re-encoded.
_FAST_EVENT = re.compile(
    rb'\{"kind":"event","index":(0|[1-9][0-9]*),(?:"leaf_hash":"([0-9a-f]{64})",)?"event":(\{.*\})\}'
)


@dataclass
class _Parsed:
    header: dict[str, Any]
    leaves: list[bytes] = field(default_factory=list)
    # What only a failed check needs, the event bytes and untrusted leaf_hash (hex) of each event:
    # kept in memory for lines given as an iterable, or re-read from a seekable binary file at
    # these line offsets (8 bytes an event instead of a copy of it: a 1M-event export verifies in
    # a fifth of the memory, and faster).
    raws: list[bytes] = field(default_factory=list)
    hints: list[bytes | str | None] = field(default_factory=list)
    source: io.BufferedIOBase | None = None
    offsets: array[int] = field(default_factory=lambda: array("q"))
    notes: list[tuple[int, str]] = field(default_factory=list)
    # First event line that could not be placed: (reason, index, line, detail).
    broken: tuple[str, int, int, str] | None = None

    # Leaves rehashed from the parsed event, by index: what the bytes first read hashed to.
    byte_hashes: dict[int, bytes] = field(default_factory=dict)

    def event(self, i: int) -> tuple[bytes, bytes | str | None] | None:
        """(event bytes as hashed, leaf_hash as exported) of event `i`; None if no longer readable.

        A re-read line must hash as it did when first read: a file rewritten in between must not
        lend its new bytes to the verdict on the old ones.
        """
        if self.source is None:
            return self.raws[i], self.hints[i]
        self.source.seek(self.offsets[i])
        parts = _event_parts(self.source.readline().rstrip(b"\r\n"), i)
        if parts is None or _sha256(b"\x00" + parts[0]).digest() != self.byte_hashes.get(i, self.leaves[i]):
            return None
        return parts


def _event_parts(text: bytes, position: int) -> tuple[bytes, bytes | str | None] | None:
    """What the parse took from event line `text` at `position`, taken again the same way.

    Used on re-reading a file; None if the line no longer is that event (the file changed).
    """
    match = _FAST_EVENT.fullmatch(text)
    if match is not None:
        digits, hint, event_bytes = match.groups()
        return (event_bytes, hint) if int(digits) == position else None
    try:
        obj = json.loads(text.decode("utf-8"))
        if type(obj) is not dict or obj.get("index") != position or type(obj.get("event")) is not dict:
            return None
        hint_text = obj.get("leaf_hash")
        return canonical_json(obj["event"]), hint_text if isinstance(hint_text, str) else None
    except (TypeError, ValueError):
        return None


def _hint(value: bytes | str | None) -> bytes | None:
    if value is None:
        return None
    try:
        digest = binascii.unhexlify(value)
    except ValueError:  # binascii.Error, or a str that is not ASCII
        return None
    return digest if len(digest) == 32 else None


def _load(text: bytes, line_no: int) -> dict[str, Any]:
    try:
        obj = json.loads(text.decode("utf-8"))
    except ValueError as exc:  # UnicodeDecodeError included
        raise VerificationError("malformed", line=line_no, detail="not JSON") from exc
    if type(obj) is not dict:
        raise VerificationError("malformed", line=line_no, detail="not a JSON object")
    return obj


def _parse_export(lines: Iterable[str] | Iterable[bytes]) -> _Parsed:
    parsed: _Parsed | None = None
    fast = _FAST_EVENT.fullmatch
    sha = _sha256
    leaves: list[bytes] = []
    raws: list[bytes] = []
    hints: list[bytes | str | None] = []
    offsets: array[int] = array("q")
    file = lines if isinstance(lines, io.BufferedIOBase) and lines.seekable() else None
    reread = file is not None
    offset = file.tell() if file is not None else 0
    append_leaf = leaves.append
    append_offset: Callable[[int], None] = offsets.append if reread else _ignore
    append_raw: Callable[[bytes], None] = _ignore if reread else raws.append
    append_hint: Callable[[bytes | str | None], None] = _ignore if reread else hints.append
    in_events = False  # past the header, before any checkpoint or broken line: fast path allowed
    source: Iterable[str | bytes] = lines
    for line_no, raw_line in enumerate(source, 1):
        # A str line with a lone surrogate keeps it (surrogatepass): the bytes are then not UTF-8,
        # so the line fails to hash to a signed leaf or to parse, and is reported, not a crash.
        line: bytes = raw_line.encode("utf-8", "surrogatepass") if isinstance(raw_line, str) else raw_line
        line_offset = offset
        offset += len(line)
        text = line.rstrip(b"\r\n")
        if not text:
            continue
        if parsed is None:
            header = _load(text, line_no)
            if header.get("kind") != "header":
                raise VerificationError("malformed", line=line_no, detail="no header line")
            if header.get("format") != EXPORT_FORMAT:
                raise VerificationError("malformed", line=line_no, detail="unknown format")
            if not isinstance(header.get("origin"), str) or not header["origin"]:
                raise VerificationError("malformed", line=line_no, detail="header lacks origin")
            parsed = _Parsed(header, leaves, raws, hints, file, offsets)
            in_events = True
            continue
        if in_events:
            match = fast(text)
            if match is not None:
                digits, hint, event_bytes = match.groups()
                position = len(leaves)
                if int(digits) != position:
                    parsed.broken = ("order", position, line_no, f"line holds index {int(digits)}, expected {position}")
                    in_events = False
                    continue
                append_leaf(sha(b"\x00" + event_bytes).digest())
                append_offset(line_offset)
                append_raw(event_bytes)
                append_hint(hint)
                continue
        position = len(leaves)
        try:
            obj = _load(text, line_no)
        except VerificationError as exc:
            if parsed.notes or parsed.broken is not None:
                raise
            # Among the events, an unreadable line is most likely a damaged event: locate it.
            parsed.broken = ("malformed", position, line_no, exc.detail)
            in_events = False
            continue
        kind = obj.get("kind")
        if kind == "checkpoint":
            if type(obj.get("note")) is not str:
                raise VerificationError("malformed", line=line_no, detail="checkpoint lacks note")
            parsed.notes.append((line_no, obj["note"]))
            in_events = False
            continue
        if kind != "event":
            raise VerificationError("malformed", line=line_no, detail=f"unknown kind {kind!r}")
        if parsed.broken is not None:
            continue
        if parsed.notes:
            parsed.broken = ("order", position, line_no, "event after the checkpoints")
            continue
        index, event, hint_text = obj.get("index"), obj.get("event"), obj.get("leaf_hash")
        if type(index) is not int or type(event) is not dict:
            parsed.broken = ("malformed", position, line_no, "event line lacks index or event")
            in_events = False
            continue
        if index != position:
            parsed.broken = ("order", position, line_no, f"line holds index {index}, expected {position}")
            in_events = False
            continue
        try:
            event_bytes = canonical_json(event)
        except (TypeError, ValueError) as exc:
            parsed.broken = ("malformed", position, line_no, str(exc))
            in_events = False
            continue
        append_leaf(sha(b"\x00" + event_bytes).digest())
        append_offset(line_offset)
        append_raw(event_bytes)
        append_hint(hint_text if isinstance(hint_text, str) else None)
    if parsed is None:
        raise VerificationError("malformed", detail="empty export")
    return parsed


def _ignore(_: object) -> None:
    pass


def _recanonicalize(parsed: _Parsed, start: int, end: int) -> None:
    """Rehash [start, end) from parsed events: bytes that are not canonical hash differently."""
    for i in range(start, end):
        parts = parsed.event(i)
        if parts is None:
            continue  # the file changed under us: the hash read first stands
        try:
            event = json.loads(parts[0].decode("utf-8"))
            if type(event) is dict:
                parsed.byte_hashes.setdefault(i, parsed.leaves[i])
                parsed.leaves[i] = leaf_hash(event)
        except (TypeError, ValueError):
            pass  # unparseable: its byte hash stands, and cannot match a signed root


def _locate(parsed: _Parsed, good: CompactRange, size: int, root: bytes, line: int) -> VerificationError:
    start = good.size
    exported = [parsed.event(i) for i in range(start, size)]
    hints = [h for h in (_hint(parts[1]) if parts else None for parts in exported) if h is not None]
    if len(hints) == size - start:
        trial = good.copy()
        trial.extend(parsed.leaves[:start] + hints, size)
        if trial.root() == root:
            for i in range(start, size):
                if parsed.leaves[i] != hints[i - start]:
                    return VerificationError(
                        "leaf_mismatch",
                        i,
                        upper=i + 1,
                        verified=i,
                        detail=f"differs from the event signed on line {line} (located by the signed leaf hashes)",
                    )
    return VerificationError(
        "leaf_mismatch",
        start,
        upper=size,
        verified=start,
        detail=f"the checkpoint of size {size} on line {line} does not match the events",
    )


def verify_export(
    lines: Iterable[str] | Iterable[bytes],
    verifier_key: str | None = None,
    *,
    latest_checkpoint: str | None = None,
) -> Report:
    """Check an export end to end; raise VerificationError at the first fault (module doc)."""
    parsed = _parse_export(lines)
    header_key = parsed.header.get("verifier_key")
    if verifier_key is not None and header_key is not None and header_key != verifier_key:
        raise VerificationError("key_mismatch", detail="export header names another key")
    key = verifier_key if verifier_key is not None else header_key
    if not isinstance(key, str):
        raise VerificationError("malformed", detail="no verifier key given or in header")
    try:
        parse_verifier_key(key)
    except ValueError as exc:
        raise VerificationError("malformed", detail=f"verifier key: {exc}") from exc
    origin = parsed.header["origin"]

    checkpoints: list[tuple[int, Checkpoint]] = []
    for line_no, note in parsed.notes:
        try:
            checkpoint = parse_checkpoint(open_note(note, key))
        except VerificationError as exc:
            exc.line = line_no
            raise
        if checkpoint.origin != origin:
            raise VerificationError("origin_mismatch", line=line_no, detail=checkpoint.origin)
        if checkpoints:
            previous = checkpoints[-1][1]
            if checkpoint.size < previous.size:
                raise VerificationError("order", line=line_no, detail="checkpoint sizes go down")
            if checkpoint.size == previous.size and checkpoint.root != previous.root:
                raise VerificationError("inconsistent_checkpoint", line=line_no, detail="two roots for one size")
        checkpoints.append((line_no, checkpoint))

    intact = len(parsed.leaves)  # events placed at their own index, before any broken line
    good = CompactRange()
    for line_no, checkpoint in checkpoints:
        if checkpoint.size > intact:
            break
        trial = good.copy()
        trial.extend(parsed.leaves, checkpoint.size)
        if trial.root() != checkpoint.root:
            _recanonicalize(parsed, good.size, checkpoint.size)
            trial = good.copy()
            trial.extend(parsed.leaves, checkpoint.size)
            if trial.root() != checkpoint.root:
                raise _locate(parsed, good, checkpoint.size, checkpoint.root, line_no)
        good = trial

    if parsed.broken is not None:
        reason, index, line_no, detail = parsed.broken
        raise VerificationError(reason, index, verified=good.size, line=line_no, detail=detail)
    if checkpoints and checkpoints[-1][1].size > intact:
        raise VerificationError(
            "truncated",
            intact,
            verified=good.size,
            detail=f"a checkpoint covers {checkpoints[-1][1].size} events, the export has {intact}",
        )
    if intact > good.size or not checkpoints:
        raise VerificationError("unsigned", good.size, verified=good.size, detail="events not covered by a checkpoint")
    if latest_checkpoint is not None:
        _check_latest(parsed.leaves, good, latest_checkpoint, key, origin)
    return Report(
        tree_size=good.size,
        checkpoints_checked=len(checkpoints),
        root=good.root().hex(),
        key_source="argument" if verifier_key is not None else "header",
    )


def _check_latest(leaves: list[bytes], good: CompactRange, note: str, key: str, origin: str) -> None:
    latest = parse_checkpoint(open_note(note, key))
    if latest.origin != origin:
        raise VerificationError("origin_mismatch", detail=latest.origin)
    if latest.size > len(leaves):
        raise VerificationError(
            "truncated",
            len(leaves),
            verified=good.size,
            detail=f"the log has signed {latest.size} events, the export has {len(leaves)}",
        )
    if root_from_leaves(leaves[: latest.size]) != latest.root:
        raise VerificationError("inconsistent_checkpoint", detail="the log signed another history for this size")


def verify_bundle(bundle: dict[str, Any], verifier_key: str) -> None:
    """A citizen's proof that one event is in the signed log; raises VerificationError."""
    event, index, size = bundle.get("event"), bundle.get("leaf_index"), bundle.get("tree_size")
    proof_hex, note = bundle.get("inclusion_proof"), bundle.get("checkpoint")
    if (
        type(event) is not dict
        or type(index) is not int
        or type(size) is not int
        or type(proof_hex) is not list
        or type(note) is not str
    ):
        raise VerificationError("malformed", detail="bundle fields missing or mistyped")
    try:
        parse_verifier_key(verifier_key)
    except ValueError as exc:
        raise VerificationError("malformed", detail=f"verifier key: {exc}") from exc
    checkpoint = parse_checkpoint(open_note(note, verifier_key))
    if checkpoint.size != size:
        raise VerificationError("size_mismatch", index, detail="bundle and checkpoint sizes differ")
    if not 0 <= index < size:
        raise VerificationError("malformed", index, detail="leaf index outside the tree")
    try:
        proof = [bytes.fromhex(p) for p in proof_hex]
        leaf = leaf_hash(event)
    except (TypeError, ValueError) as exc:
        raise VerificationError("malformed", index, detail=str(exc)) from exc
    if any(len(p) != 32 for p in proof):
        raise VerificationError("malformed", index, detail="proof hashes are 32 bytes")
    if not verify_inclusion(leaf, index, size, proof, checkpoint.root):
        raise VerificationError("root_mismatch", index, detail="inclusion proof does not reach the root")
