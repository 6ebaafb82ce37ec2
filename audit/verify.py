"""Offline verifier for the gateway's audit trail: the single source of truth for its hashing.

Needs only the Python standard library and `cryptography`; no Django. Run it as
`python audit/verify.py EXPORT.jsonl --key VERIFIER_KEY` (or `python -m audit.verify`), or
`--bundle BUNDLE.json --key ...` for a citizen's proof bundle.

Hashing (RFC 9162 §2.1.1): leaf = SHA-256(0x00 || JCS(event)), node = SHA-256(0x01 || l || r),
where JCS is RFC 8785 canonical JSON. Checkpoints are C2SP tlog-checkpoints inside C2SP signed
notes with Ed25519 signatures.

Export format (`gateway-audit-export/1`, JSON Lines, UTF-8, one object per line):

    {"kind":"header","format":"gateway-audit-export/1","origin":O,"verifier_key":K}
    {"kind":"event","index":0,"event":{...}}
    {"kind":"event","index":1,"leaf_hash":"<64 hex>","event":{...}}
    ...
    {"kind":"checkpoint","note":"<signed note text>"}
    ...

- The header comes first. Its `verifier_key` is a convenience, not a trust anchor: pass the key
  obtained out of band (`--key`) and the verifier insists that the header names the same key.
- Event lines follow with `index` contiguous from 0. `event` is opaque here: it is the object
  whose canonical JSON was hashed. Exporters write it canonically and keep the member order
  above, so the verifier can hash the bytes as they stand without parsing them (the fast path
  behind the 300,000 leaves/s target; pass the lines as bytes, e.g. a file opened in binary mode,
  to skip decoding them); any other layout is parsed and canonicalized, so a re-serialized export
  still verifies, only slower.
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
  fetched independently (`latest_checkpoint`, `--checkpoint`) to rule it out.

Checkpoint faults have no event index: `bad_signature` (forged, signed by another key, body
altered), `origin_mismatch`, `key_mismatch`, `order` (sizes going down), `inconsistent_checkpoint`
(two validly signed roots that cannot both describe this log: the log itself equivocated).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import io
import json
import re
import sys
import time
from array import array
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

EXPORT_FORMAT = "gateway-audit-export/1"
EMPTY_ROOT = hashlib.sha256(b"").digest()

_sha256 = hashlib.sha256
# RFC 8785 numbers are IEEE 754 doubles: beyond 2**53 an integer would not round-trip.
_MAX_SAFE_INTEGER = 2**53 - 1
# golang.org/x/mod/sumdb/note refuses more; the C2SP spec asks for at least 16.
_MAX_SIGNATURES = 100
_ED25519 = b"\x01"


class VerificationError(Exception):
    """A failed check, with a stable `reason` code and, for event faults, where it is.

    See the module docstring for the exact meaning of `index`, `upper` and `verified`.
    """

    def __init__(
        self,
        reason: str,
        index: int | None = None,
        *,
        detail: str = "",
        upper: int | None = None,
        verified: int | None = None,
        line: int | None = None,
    ) -> None:
        self.reason = reason
        self.index = index
        self.upper = upper
        self.verified = verified
        self.line = line
        self.detail = detail
        super().__init__(reason, index)

    def __str__(self) -> str:
        where = f" at index {self.index}" if self.index is not None else ""
        return f"{self.reason}{where}{self.summary()[len(self.reason) :]}"

    def summary(self) -> str:
        """The reason and what locates it, without the index (the CLI prints that first)."""
        text = self.reason
        if self.upper is not None and self.index is not None and self.upper > self.index + 1:
            text += f", first bad event in [{self.index}, {self.upper})"
        if self.line is not None:
            text += f", line {self.line}"
        return f"{text}: {self.detail}" if self.detail else text


# ---------------------------------------------------------------------------------------------
# RFC 8785 canonical JSON


def _check_jcs(value: object) -> bool:
    """Refuse what is outside our JCS subset; True if some key is not ASCII."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return False
    if kind is int:
        if -_MAX_SAFE_INTEGER <= value <= _MAX_SAFE_INTEGER:  # type: ignore[operator]
            return False
        raise ValueError(f"integer {value} is outside the I-JSON safe range")
    if kind is dict:
        odd_keys = False
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                raise TypeError(f"object keys must be str, not {type(key).__name__}")
            if not key.isascii():
                odd_keys = True
            if _check_jcs(item):
                odd_keys = True
        return odd_keys
    if kind is list:
        odd_keys = False
        for item in value:  # type: ignore[attr-defined]
            if _check_jcs(item):
                odd_keys = True
        return odd_keys
    raise TypeError(f"{kind.__name__} is not supported in canonical JSON (events carry no floats)")


def _jcs_text(value: object) -> str:
    # json.dumps escapes strings exactly as RFC 8785 §3.2.2.2 does; only key order differs.
    if type(value) is dict:
        # RFC 8785 §3.2.3 sorts by UTF-16 code units, not code points: U+1F600 < U+E000.
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(_dumps(k) + ":" + _jcs_text(v) for k, v in items) + "}"
    if type(value) is list:
        return "[" + ",".join(_jcs_text(v) for v in value) + "]"
    return _dumps(value)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def canonical_json(obj: object) -> bytes:
    """RFC 8785 canonical JSON of dicts, lists, str, int (|n| < 2**53), bool and None."""
    odd_keys = _check_jcs(obj)
    if odd_keys:
        text = _jcs_text(obj)
    else:
        # ASCII keys sort identically by code point and by UTF-16 unit: use the C encoder.
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("lone surrogate in string: not valid Unicode") from exc


# ---------------------------------------------------------------------------------------------
# RFC 9162 Merkle tree


def leaf_hash(event: dict[str, Any]) -> bytes:
    return _sha256(b"\x00" + canonical_json(event)).digest()


_digest = type(_sha256()).digest


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


class _CompactRange:
    """Roots of a growing prefix: the perfect subtrees covering leaves [0, size)."""

    def __init__(self, size: int = 0, stack: list[tuple[int, bytes]] | None = None) -> None:
        self.size = size
        self.stack: list[tuple[int, bytes]] = stack if stack is not None else []

    def copy(self) -> _CompactRange:
        return _CompactRange(self.size, list(self.stack))

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


# ---------------------------------------------------------------------------------------------
# C2SP signed notes and checkpoints


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    """Strict standard base64: refuses other alphabets, missing padding, non-canonical bits."""
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError("invalid base64") from exc
    if _b64(data) != text:
        raise ValueError("non-canonical base64")
    return data


def _check_key_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" or ord(c) < 0x20 for c in name):
        raise ValueError(f"invalid key name {name!r}: empty, or with spaces or '+'")


def key_hash(name: str, public_key_bytes: bytes) -> bytes:
    """C2SP signed-note key ID for Ed25519: SHA-256(name || 0x0A || 0x01 || key)[:4]."""
    return _sha256(name.encode("utf-8") + b"\n" + _ED25519 + public_key_bytes).digest()[:4]


def verifier_key(name: str, public_key_bytes: bytes) -> str:
    _check_key_name(name)
    if len(public_key_bytes) != 32:
        raise ValueError("an Ed25519 public key is 32 bytes")
    return f"{name}+{key_hash(name, public_key_bytes).hex()}+{_b64(_ED25519 + public_key_bytes)}"


def public_key_bytes(key: Ed25519PrivateKey | Ed25519PublicKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(Encoding.Raw, PublicFormat.Raw)


def parse_verifier_key(s: str) -> tuple[str, bytes, Ed25519PublicKey]:
    """`<name>+<8 hex key hash>+<base64(0x01 || key)>` -> (name, 4-byte key hash, key)."""
    parts = s.split("+", 2)
    if len(parts) != 3:
        raise ValueError("a verifier key is <name>+<hash>+<key>")
    name, hash_hex, key_b64 = parts
    _check_key_name(name)
    if not re.fullmatch(r"[0-9a-f]{8}", hash_hex):
        raise ValueError("key hash must be 8 lowercase hex digits")
    raw = _unb64(key_b64)
    if len(raw) != 33 or raw[:1] != _ED25519:
        raise ValueError("only 32-byte Ed25519 keys (type 0x01) are supported")
    if key_hash(name, raw[1:]) != bytes.fromhex(hash_hex):
        raise ValueError("key hash does not match name and key")
    return name, bytes.fromhex(hash_hex), Ed25519PublicKey.from_public_bytes(raw[1:])


def _check_note_text(text: str) -> None:
    if any(ord(c) < 0x20 and c != "\n" for c in text):
        raise VerificationError("malformed", detail="control character in note")


def sign_note(body: str, name: str, private_key: Ed25519PrivateKey) -> str:
    if body in ("", "\n") or not body.endswith("\n") or any(ord(c) < 0x20 and c != "\n" for c in body):
        raise ValueError("note text must be non-empty, end in a newline and hold no control characters")
    _check_key_name(name)
    kh = key_hash(name, public_key_bytes(private_key))
    signature = private_key.sign(body.encode("utf-8"))
    return f"{body}\n\u2014 {name} {_b64(kh + signature)}\n"


def open_note(text: str, verifier_key: str) -> str:
    """The note's text if a signature from `verifier_key` verifies; raises otherwise.

    As the spec asks: signatures from other keys are ignored, a failing signature from this key
    rejects the whole note, and no signature from this key rejects it too.
    """
    name, kh, public = parse_verifier_key(verifier_key)
    _check_note_text(text)
    split = text.rfind("\n\n")
    if split < 0 or not text.endswith("\n"):
        raise VerificationError("malformed", detail="note has no signature block")
    body, block = text[: split + 1], text[split + 2 :]
    lines = block[:-1].split("\n") if block else []
    if not lines or len(lines) > _MAX_SIGNATURES:
        raise VerificationError("malformed", detail="note has no or too many signatures")
    verified = False
    for sig_line in lines:
        parts = sig_line.split(" ")
        if len(parts) != 3 or parts[0] != "\u2014" or not parts[1] or "+" in parts[1]:
            raise VerificationError("malformed", detail="bad signature line")
        try:
            blob = _unb64(parts[2])
        except ValueError as exc:
            raise VerificationError("malformed", detail="bad signature encoding") from exc
        if len(blob) < 5:
            raise VerificationError("malformed", detail="signature too short")
        if parts[1] != name or blob[:4] != kh:
            continue
        try:
            public.verify(blob[4:], body.encode("utf-8"))
        except InvalidSignature as exc:
            raise VerificationError("bad_signature", detail=f"invalid signature by {name}") from exc
        verified = True
    if not verified:
        raise VerificationError("bad_signature", detail=f"no signature by {name}+{kh.hex()}")
    return body


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes


def format_checkpoint(origin: str, size: int, root: bytes) -> str:
    if not origin or "\n" in origin or size < 0 or len(root) != 32:
        raise ValueError("invalid checkpoint")
    return f"{origin}\n{size}\n{_b64(root)}\n"


def parse_checkpoint(body: str) -> Checkpoint:
    lines = body.split("\n")
    # c2sp.org/tlog-checkpoint: origin, size, root, then optional non-empty extension lines.
    if len(lines) < 4 or lines[-1] != "" or not all(lines[:-1]):
        raise VerificationError("malformed", detail="checkpoint needs origin, size and root")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not re.fullmatch(r"0|[1-9][0-9]*", size_text):
        raise VerificationError("malformed", detail="checkpoint size is not a decimal")
    try:
        root = _unb64(root_text)
    except ValueError as exc:
        raise VerificationError("malformed", detail="checkpoint root is not base64") from exc
    if len(root) != 32:
        raise VerificationError("malformed", detail="checkpoint root is not 32 bytes")
    return Checkpoint(origin, int(size_text), root)


# ---------------------------------------------------------------------------------------------
# Exports and bundles


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


def _locate(parsed: _Parsed, good: _CompactRange, size: int, root: bytes, line: int) -> VerificationError:
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
    good = _CompactRange()
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


def _check_latest(leaves: list[bytes], good: _CompactRange, note: str, key: str, origin: str) -> None:
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="audit_verify", description="Verify an audit trail export or proof bundle offline."
    )
    parser.add_argument("path", help="export (JSON Lines) or, with --bundle, a proof bundle")
    parser.add_argument("--key", help="the log's verifier key, obtained out of band")
    parser.add_argument("--bundle", action="store_true", help="PATH is a citizen's proof bundle")
    parser.add_argument("--checkpoint", help="file with a checkpoint fetched from the log itself")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        if args.bundle:
            if not args.key:
                parser.error("--bundle needs --key")
            with open(args.path, encoding="utf-8") as f:
                bundle = json.load(f)
            verify_bundle(bundle if isinstance(bundle, dict) else {}, args.key)
            print(f"OK: event {bundle['leaf_index']} is in the log of size {bundle['tree_size']}")
            return 0
        latest = None
        if args.checkpoint:
            with open(args.checkpoint, encoding="utf-8") as f:
                latest = f.read()
        with open(args.path, "rb") as f:  # bytes: event lines are hashed as they stand
            report = verify_export(f, args.key, latest_checkpoint=latest)
    except VerificationError as exc:
        where = f" at index {exc.index}" if exc.index is not None else ""
        print(f"FAILED{where}: {exc.summary()}")
        return 1
    except (OSError, ValueError) as exc:
        print(f"FAILED: {exc}")
        return 1
    elapsed = max(time.perf_counter() - started, 1e-9)
    trust = "" if report.key_source == "argument" else " (key from the export header: pass --key)"
    print(
        f"OK: {report.tree_size} events, {report.checkpoints_checked} checkpoints, "
        f"root {report.root}, {report.tree_size / elapsed:,.0f} leaves/s{trust}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
