"""The offline verifier package `audit.tlog`: canonical JSON, signed notes, exports, bundles, command line."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit import merkle
from audit.tlog.canonical import canonical_json
from audit.tlog.cli import bundle_verified, main
from audit.tlog.errors import VerificationError
from audit.tlog.export import (
    export_checkpoint_line,
    export_event_line,
    export_header_line,
    verify_bundle,
    verify_export,
)
from audit.tlog.merkle import leaf_hash, leaf_hashes, root_from_leaves
from audit.tlog.note import (
    format_checkpoint,
    open_note,
    parse_checkpoint,
    parse_verifier_key,
    public_key_bytes,
    sign_note,
    verifier_key,
)

ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "gateway.example.gouv.fr/audit"

# golang.org/x/mod/sumdb/note note_test.go: the reference implementation's own vectors.
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
PETER_SIG = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n"

LOG_KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"the gateway's log key").digest())
MALLORY_KEY = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"mallory").digest())
LOG_VKEY = verifier_key(ORIGIN, public_key_bytes(LOG_KEY))
MALLORY_VKEY = verifier_key(ORIGIN, public_key_bytes(MALLORY_KEY))


# --------------------------------------------------------------------------------------------
# Canonical JSON


def test_it_sorts_keys_by_utf16_code_units_as_in_rfc_8785_section_3_2_3() -> None:
    keys = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    ordered = json.loads(canonical_json({k: k for k in keys}))
    assert list(ordered) == ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]


def test_it_escapes_strings_as_in_rfc_8785_section_3_2_2_2() -> None:
    text = "\u20ac$\u000f\u000aA'\u0042\u0022\u005c\\\"/"
    assert canonical_json(text) == '"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"'.encode()
    assert canonical_json({"b": [True, None, -(2**53) + 1], "a": "\u2028\x7f"}) == (
        '{"a":"\u2028\x7f","b":[true,null,-9007199254740991]}'.encode()
    )


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (1.5, TypeError),
        ({"n": 0.0}, TypeError),
        ({1: "x"}, TypeError),
        (("a",), TypeError),
        (2**53, ValueError),
        ({"s": "\ud800"}, ValueError),
    ],
)
def test_it_refuses_values_outside_the_subset_events_use(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        canonical_json(value)


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**53) + 1, 2**53 - 1) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(_json_values)
def test_it_agrees_with_the_rfc8785_package_on_the_supported_subset(value: Any) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_it_hashes_a_leaf_as_sha256_of_zero_then_canonical_json() -> None:
    event = {"type": "consent.approved", "consumer": "mairie", "n": 3}
    assert leaf_hash(event) == hashlib.sha256(b'\x00{"consumer":"mairie","n":3,"type":"consent.approved"}').digest()
    events = [event, {"é": "😀"}, {}]
    assert leaf_hashes(canonical_json(e) for e in events) == [leaf_hash(e) for e in events]


# --------------------------------------------------------------------------------------------
# Signed notes and checkpoints


def test_it_signs_the_go_reference_note_byte_for_byte() -> None:
    peter = Ed25519PrivateKey.from_private_bytes(PETER_SEED)
    assert verifier_key("PeterNeumann", public_key_bytes(peter)) == PETER_VKEY
    assert sign_note(GO_TEXT, "PeterNeumann", peter) == GO_TEXT + "\n" + PETER_SIG
    name, key_id, _ = parse_verifier_key(PETER_VKEY)
    assert (name, key_id.hex()) == ("PeterNeumann", "c74f20a3")


def test_it_opens_the_go_reference_note_and_ignores_signatures_from_other_keys() -> None:
    both = GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG
    assert open_note(both, PETER_VKEY) == GO_TEXT
    assert open_note(both, ENOCH_VKEY) == GO_TEXT
    with pytest.raises(VerificationError) as excinfo:
        open_note(GO_TEXT + "\n" + ENOCH_SIG, PETER_VKEY)
    assert excinfo.value.reason == "bad_signature"


def test_it_refuses_every_mangling_of_a_verifier_key_like_the_go_package() -> None:
    for i in range(len(PETER_VKEY) + 1):
        for j in range(i + 1, len(PETER_VKEY) + 1):
            if (i, j) != (0, len(PETER_VKEY)):
                with pytest.raises(ValueError):
                    parse_verifier_key(PETER_VKEY[i:j])
    for i in range(len(PETER_VKEY)):
        with pytest.raises(ValueError):
            parse_verifier_key(PETER_VKEY[:i] + chr(ord(PETER_VKEY[i]) + 1) + PETER_VKEY[i + 1 :])


@pytest.mark.parametrize(
    "message",
    [
        GO_TEXT,
        GO_TEXT + "\n",
        GO_TEXT + "\n" + PETER_SIG[:-1],
        "\x01" + GO_TEXT + "\n" + PETER_SIG,
        GO_TEXT
        + "\n— Bad Name x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n",
        GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n",
        GO_TEXT + "\n" + PETER_SIG * 101,
    ],
)
def test_it_calls_the_go_package_malformed_notes_malformed(message: str) -> None:
    with pytest.raises(VerificationError) as excinfo:
        open_note(message, PETER_VKEY)
    assert excinfo.value.reason == "malformed"


def test_it_fails_a_note_when_any_byte_of_body_or_signature_changes() -> None:
    body = format_checkpoint(ORIGIN, 42, bytes(range(32)))
    note = sign_note(body, ORIGIN, LOG_KEY)
    assert open_note(note, LOG_VKEY) == body
    for i, char in enumerate(body):
        if char != "\n":
            forged = note[:i] + chr(ord(char) ^ 0x01) + note[i + 1 :]
            with pytest.raises(VerificationError) as excinfo:
                open_note(forged, LOG_VKEY)
            assert excinfo.value.reason == "bad_signature"
    prefix, blob = note.rsplit(" ", 1)
    raw = base64.b64decode(blob)
    for i in range(len(raw)):
        changed = raw[:i] + bytes([raw[i] ^ 0x80]) + raw[i + 1 :]
        with pytest.raises(VerificationError) as excinfo:
            open_note(f"{prefix} {base64.b64encode(changed).decode()}\n", LOG_VKEY)
        assert excinfo.value.reason == "bad_signature"
    with pytest.raises(VerificationError) as excinfo:
        open_note(note, MALLORY_VKEY)
    assert excinfo.value.reason == "bad_signature"


def test_it_round_trips_a_checkpoint_and_parses_the_c2sp_example() -> None:
    root = hashlib.sha256(b"root").digest()
    assert parse_checkpoint(format_checkpoint(ORIGIN, 7, root)) == (
        parse_checkpoint(f"{ORIGIN}\n7\n{base64.b64encode(root).decode()}\n")
    )
    example = parse_checkpoint("example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n")
    assert (example.origin, example.size, example.root[:2].hex()) == ("example.com/behind-the-sofa", 20852163, "0ac5")
    for bad in [
        f"{ORIGIN}\n07\n{base64.b64encode(root).decode()}\n",
        f"{ORIGIN}\n7\n",
        f"{ORIGIN}\n7\nAAAA\n",
        f"{ORIGIN}\n7\n{base64.b64encode(root).decode()}",
    ]:
        with pytest.raises(VerificationError) as excinfo:
            parse_checkpoint(bad)
        assert excinfo.value.reason == "malformed"


# --------------------------------------------------------------------------------------------
# Exports


def _events(count: int, seed: int = 0) -> list[dict[str, Any]]:
    return [{"seq": i, "type": "exchange.succeeded", "consumer": "mairie", "salt": seed} for i in range(count)]


def _checkpoint(leaves: list[bytes], size: int, key: Ed25519PrivateKey = LOG_KEY, origin: str = ORIGIN) -> str:
    return sign_note(format_checkpoint(origin, size, root_from_leaves(leaves[:size])), ORIGIN, key)


def build_export(events: list[dict[str, Any]], sizes: list[int] | None = None, *, hints: bool = False) -> list[str]:
    """Export lines as the gateway writes them; by default one checkpoint per event."""
    leaves = [leaf_hash(e) for e in events]
    sizes = sizes if sizes is not None else list(range(1, len(events) + 1))
    lines = [export_header_line(ORIGIN, LOG_VKEY)]
    lines += [export_event_line(i, e, leaves[i] if hints else None) for i, e in enumerate(events)]
    lines += [export_checkpoint_line(_checkpoint(leaves, size)) for size in sizes]
    return lines


def _as_file(lines: list[str] | list[bytes]) -> io.BytesIO:
    return io.BytesIO(
        b"".join(line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line for line in lines)
    )


def _fails(lines: list[str] | list[bytes], **kwargs: Any) -> VerificationError:
    with pytest.raises(VerificationError) as excinfo:
        verify_export(lines, LOG_VKEY, **kwargs)
    error = excinfo.value
    if all(line.endswith("\n" if isinstance(line, str) else b"\n") for line in lines):
        # The same export as a binary file, whose failed checks re-read lines instead of keeping them.
        with pytest.raises(VerificationError) as from_file:
            verify_export(_as_file(lines), LOG_VKEY, **kwargs)
        found = from_file.value
        assert (found.reason, found.index, found.upper, found.verified, found.line, found.detail) == (
            error.reason,
            error.index,
            error.upper,
            error.verified,
            error.line,
            error.detail,
        )
    return error


_event_values = st.one_of(st.text(max_size=6), st.integers(-1000, 1000))
_event_logs = st.lists(
    st.dictionaries(st.sampled_from(["type", "actor", "consumer", "purpose", "n"]), _event_values, max_size=4),
    min_size=2,
    max_size=8,
).map(lambda events: [{**e, "seq": i} for i, e in enumerate(events)])  # seq keeps events distinct


def test_it_verifies_an_intact_export_and_reports_size_root_and_checkpoints() -> None:
    events = _events(10)
    report = verify_export(build_export(events), LOG_VKEY)
    assert (report.ok, report.tree_size, report.checkpoints_checked) == (True, 10, 10)
    assert report.root == root_from_leaves([leaf_hash(e) for e in events]).hex()
    assert verify_export(build_export(events)).key_source == "header"
    assert verify_export(_as_file(build_export(events)), LOG_VKEY) == report


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(events=_event_logs)
def test_it_names_the_first_altered_deleted_or_swapped_event_with_one_checkpoint_per_event(
    events: list[dict[str, Any]],
) -> None:
    lines = build_export(events)
    n = len(events)
    assert verify_export(lines, LOG_VKEY).tree_size == n
    events_at = 1  # the header is line 0
    for i in range(n):
        altered = dict(events[i], seq=-1)
        error = _fails([*lines[: events_at + i], export_event_line(i, altered), *lines[events_at + i + 1 :]])
        assert (error.reason, error.index, error.upper, error.verified) == ("leaf_mismatch", i, i + 1, i)

        deleted = lines[: events_at + i] + lines[events_at + i + 1 :]
        expected = ("order", i, i) if i < n - 1 else ("truncated", n - 1, n - 1)
        error = _fails(deleted)
        assert (error.reason, error.index, error.verified) == expected

        renumbered = [
            *lines[:events_at],
            *(export_event_line(j, e) for j, e in enumerate(events[:i] + events[i + 1 :])),
        ]
        renumbered += lines[events_at + n :]
        error = _fails(renumbered)
        expected = ("leaf_mismatch", i) if i < n - 1 else ("truncated", n - 1)
        assert (error.reason, error.index) == expected

        for j in range(i + 1, n):
            swapped = list(lines)
            swapped[events_at + i], swapped[events_at + j] = lines[events_at + j], lines[events_at + i]
            error = _fails(swapped)
            assert (error.reason, error.index, error.verified) == ("order", i, i)
            swapped[events_at + i] = export_event_line(i, events[j])
            swapped[events_at + j] = export_event_line(j, events[i])
            error = _fails(swapped)
            assert (error.reason, error.index, error.upper) == ("leaf_mismatch", i, i + 1)

    for keep in range(n):
        error = _fails(lines[: events_at + keep] + lines[events_at + n :])
        assert (error.reason, error.index, error.verified) == ("truncated", keep, keep)


@settings(max_examples=25, deadline=None)
@given(events=_event_logs, data=st.data())
def test_it_narrows_the_first_bad_event_to_the_span_between_checkpoints(
    events: list[dict[str, Any]], data: st.DataObject
) -> None:
    n = len(events)
    sizes = sorted({*data.draw(st.lists(st.integers(1, n - 1), max_size=3)), n})
    i = data.draw(st.integers(0, n - 1))
    lower = max([s for s in sizes if s <= i], default=0)
    upper = min(s for s in sizes if s > i)
    altered = dict(events[i], seq=-1)

    lines = build_export(events, sizes)
    lines[1 + i] = export_event_line(i, altered)
    error = _fails(lines)
    assert (error.reason, error.index, error.upper, error.verified) == ("leaf_mismatch", lower, upper, lower)

    # The log's leaf hashes rebuild the signed root, so they are authentic and pin the event.
    hinted = build_export(events, sizes, hints=True)
    hinted[1 + i] = export_event_line(i, altered, leaf_hash(events[i]))
    error = _fails(hinted)
    assert (error.reason, error.index, error.upper) == ("leaf_mismatch", i, i + 1)

    # A hint forged to match the altered event no longer rebuilds the root: back to the span.
    hinted[1 + i] = export_event_line(i, altered, leaf_hash(altered))
    error = _fails(hinted)
    assert (error.reason, error.index, error.upper) == ("leaf_mismatch", lower, upper)


def test_it_rejects_a_checkpoint_forged_with_another_key_or_with_its_root_changed() -> None:
    events = _events(6)
    leaves = [leaf_hash(e) for e in events]
    lines = build_export(events)
    forged = list(lines)
    forged[-3] = export_checkpoint_line(_checkpoint(leaves, 4, MALLORY_KEY))
    error = _fails(forged)
    assert (error.reason, error.index, error.line) == ("bad_signature", None, len(lines) - 2)

    note = json.loads(lines[-1])["note"]
    other_root = base64.b64encode(hashlib.sha256(b"x").digest()).decode()
    body_root = base64.b64encode(root_from_leaves(leaves)).decode()
    forged = [*lines[:-1], export_checkpoint_line(note.replace(body_root, other_root))]
    assert _fails(forged).reason == "bad_signature"


def test_it_refuses_an_export_whose_header_names_another_key_than_the_trusted_one() -> None:
    events = _events(3)
    leaves = [leaf_hash(dict(e, seq=9)) for e in events]
    lines = [export_header_line(ORIGIN, MALLORY_VKEY)]
    lines += [export_event_line(i, dict(e, seq=9)) for i, e in enumerate(events)]
    lines.append(export_checkpoint_line(_checkpoint(leaves, 3, MALLORY_KEY)))
    assert verify_export(lines).key_source == "header"  # self-consistent, hence --key
    assert _fails(lines).reason == "key_mismatch"


def test_it_reports_origin_mismatch_decreasing_sizes_and_unsigned_events() -> None:
    events = _events(4)
    leaves = [leaf_hash(e) for e in events]
    lines = build_export(events, [2, 4])
    other_origin = [*lines[:-1], export_checkpoint_line(_checkpoint(leaves, 4, origin="elsewhere.example/log"))]
    assert _fails(other_origin).reason == "origin_mismatch"
    backwards = [*lines[:-2], lines[-1], lines[-2]]
    assert _fails(backwards).reason == "order"
    error = _fails(build_export(events, [2]))
    assert (error.reason, error.index) == ("unsigned", 2)
    error = _fails(build_export(events, []))
    assert (error.reason, error.index) == ("unsigned", 0)


def test_it_checks_the_export_against_a_checkpoint_fetched_from_the_log() -> None:
    events = _events(8)
    leaves = [leaf_hash(e) for e in events]
    lines = build_export(events[:5], [5])
    assert verify_export(lines, LOG_VKEY, latest_checkpoint=_checkpoint(leaves, 5)).tree_size == 5
    assert verify_export(lines, LOG_VKEY, latest_checkpoint=_checkpoint(leaves, 3)).tree_size == 5
    error = _fails(lines, latest_checkpoint=_checkpoint(leaves, 8))
    assert (error.reason, error.index) == ("truncated", 5)
    forked = _checkpoint([leaf_hash(dict(e, salt=1)) for e in events], 3)
    assert _fails(lines, latest_checkpoint=forked).reason == "inconsistent_checkpoint"


def test_it_still_verifies_an_export_that_was_re_serialized_by_another_tool() -> None:
    events = _events(5)
    lines = build_export(events, [5])
    pretty = [json.dumps(json.loads(line), indent=None, separators=(", ", ": ")) + "\n" for line in lines]
    assert verify_export(pretty, LOG_VKEY).tree_size == 5
    reordered = list(lines)
    reordered[1] = f'{{"kind":"event","index":0,"event":{json.dumps(dict(reversed(events[0].items())))}}}\n'
    assert reordered[1] != lines[1]
    assert verify_export(reordered, LOG_VKEY).tree_size == 5
    assert verify_export(_as_file(reordered), LOG_VKEY).tree_size == 5
    assert verify_export(_as_file(pretty), LOG_VKEY).tree_size == 5


def test_it_verifies_lines_given_as_bytes_exactly_as_lines_given_as_text() -> None:
    events = [{**e, "note": "é 😀 \u2028"} for e in _events(6)]
    lines = build_export(events, [2, 6], hints=True)
    as_bytes = [line.encode() for line in lines]

    assert verify_export(as_bytes, LOG_VKEY) == verify_export(lines, LOG_VKEY)
    altered = list(as_bytes)
    altered[4] = export_event_line(3, dict(events[3], seq=-1), leaf_hash(events[3])).encode()
    error = _fails(altered)  # type: ignore[arg-type]
    assert (error.reason, error.index, error.upper) == ("leaf_mismatch", 3, 4)
    # Same layout, but escapes the canonical form does not use: rehashed from the parsed event.
    escaped = list(as_bytes)
    ascii_json = json.dumps(events[2], sort_keys=True, separators=(",", ":"))
    escaped[3] = f'{{"kind":"event","index":2,"event":{ascii_json}}}\n'.encode()
    assert escaped[3] != as_bytes[3]
    assert verify_export(escaped, LOG_VKEY).tree_size == 6
    error = _fails([*as_bytes[:3], b'{"kind":"event","index":2,"event":{"x":"\xff"}}\n', *as_bytes[4:]])  # type: ignore[list-item]
    assert (error.reason, error.index) == ("leaf_mismatch", 2)
    error = _fails([*as_bytes[:3], b"\xff\xfe not utf-8\n", *as_bytes[4:]])  # type: ignore[list-item]
    assert (error.reason, error.index, error.line) == ("malformed", 2, 4)


def test_it_keeps_the_first_reading_of_a_line_that_changed_before_it_was_re_read() -> None:
    events = _events(4)
    lines = build_export(events, [4], hints=True)
    lines[2] = lines[2].replace('"seq":1', '"seq":-1')
    changing = _as_file(lines)
    real_seek = changing.seek

    def seek_after_a_swap(offset: int, whence: int = 0) -> int:
        # Once parsed, the export is rewritten with the authentic line: the verifier must not
        # take the authentic re-read bytes for the altered ones it hashed.
        changing.seek = real_seek  # type: ignore[method-assign]
        authentic = _as_file(build_export(events, [4], hints=True)).getvalue()
        real_seek(0)
        changing.write(authentic)
        return real_seek(offset, whence)

    changing.seek = seek_after_a_swap  # type: ignore[method-assign]
    with pytest.raises(VerificationError) as excinfo:
        verify_export(changing, LOG_VKEY)
    # Not located by the hints any more (their lines changed), but still refused.
    assert (excinfo.value.reason, excinfo.value.index, excinfo.value.upper) == ("leaf_mismatch", 0, 4)
    assert changing.getvalue().startswith(_as_file(build_export(events, [4], hints=True)).getvalue())


def test_it_reports_a_lone_surrogate_in_a_text_line_instead_of_crashing() -> None:
    lines = build_export(_events(3), [3])
    lines[2] = export_event_line(1, {"seq": 1}).replace('"seq"', '"s\ud800"')
    error = _fails(lines)
    assert (error.reason, error.index) == ("leaf_mismatch", 0)
    lines[2] = '{"kind":"event","index":1,"event":"\ud800"}\n'
    error = _fails(lines)
    assert (error.reason, error.index, error.line) == ("malformed", 1, 3)


def test_it_calls_broken_lines_malformed() -> None:
    lines = build_export(_events(3))
    assert _fails(["not json\n", *lines[1:]]).reason == "malformed"
    assert _fails(lines[1:]).reason == "malformed"
    error = _fails([*lines[:2], '{"kind":"event","index":1}\n', *lines[3:]])
    assert (error.reason, error.index, error.line) == ("malformed", 1, 3)
    error = _fails([*lines[:3], lines[3][:20] + "\n", *lines[4:]])
    assert (error.reason, error.index, error.verified) == ("malformed", 2, 2)


# --------------------------------------------------------------------------------------------
# Proof bundles


def _bundle(events: list[dict[str, Any]], index: int) -> dict[str, Any]:
    store = merkle.MemoryNodeStore()
    store.append([leaf_hash(e) for e in events])
    proof = merkle.inclusion_proof(index, len(events), store)
    return {
        "event": events[index],
        "leaf_index": index,
        "tree_size": len(events),
        "inclusion_proof": [p.hex() for p in proof],
        "checkpoint": _checkpoint([leaf_hash(e) for e in events], len(events)),
    }


def test_it_verifies_a_citizens_proof_bundle_and_rejects_altered_ones() -> None:
    events = _events(11)
    for index in range(11):
        verify_bundle(_bundle(events, index), LOG_VKEY)
    bundle = _bundle(events, 4)
    cases = [
        ({**bundle, "event": dict(events[4], seq=99)}, "root_mismatch"),
        ({**bundle, "leaf_index": 5}, "root_mismatch"),
        ({**bundle, "tree_size": 12}, "size_mismatch"),
        ({**bundle, "inclusion_proof": bundle["inclusion_proof"][:-1]}, "root_mismatch"),
        ({**bundle, "checkpoint": _checkpoint([leaf_hash(e) for e in events], 11, MALLORY_KEY)}, "bad_signature"),
        ({**bundle, "inclusion_proof": ["zz"]}, "malformed"),
    ]
    for forged, reason in cases:
        with pytest.raises(VerificationError) as excinfo:
            verify_bundle(forged, LOG_VKEY)
        assert excinfo.value.reason == reason


# --------------------------------------------------------------------------------------------
# The specification's examples


def _fenced(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```$", text, flags=re.MULTILINE | re.DOTALL)


def test_the_examples_of_docs_trail_md_verify() -> None:
    doc = (ROOT / "docs" / "trail.md").read_text(encoding="utf-8")
    seed = hashlib.sha256(b"docs/trail.md example key").digest()
    key = verifier_key(ORIGIN, public_key_bytes(Ed25519PrivateKey.from_private_bytes(seed)))
    texts = _fenced(doc, "text")
    [export] = _fenced(doc, "jsonl")
    [bundle] = _fenced(doc, "json")
    lines = export.splitlines(keepends=True)
    first_event = json.loads(lines[1])["event"]
    events = [json.loads(line)["event"] for line in lines[1:4]]
    notes = [json.loads(line)["note"] for line in lines[4:]]

    report = verify_export(lines, key)
    verify_bundle(json.loads(bundle), key)

    assert (report.tree_size, report.checkpoints_checked, report.key_source) == (3, 2, "argument")
    assert f"`{report.root}` at size 3" in doc
    assert f"`{root_from_leaves([leaf_hash(e) for e in events[:2]]).hex()}` at size 2" in doc
    assert key + "\n" in texts
    assert canonical_json(first_event).decode() + "\n" in texts
    assert f"its leaf hash is `{leaf_hash(first_event).hex()}`" in doc
    assert notes[1] in texts
    assert json.loads(bundle)["event"] == events[1]
    said = bundle_verified(json.loads(bundle))
    assert " ".join(f"`{said}`".split()) in " ".join(doc.split())  # the line the doc quotes


# --------------------------------------------------------------------------------------------
# Command line


def test_it_exits_zero_with_a_summary_on_a_good_export_and_one_on_a_bad_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = _events(6)
    good = tmp_path / "good.jsonl"
    good.write_text("".join(build_export(events)), encoding="utf-8")
    assert main([str(good), "--key", LOG_VKEY]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"OK: 6 events, 6 checkpoints, root {root_from_leaves([leaf_hash(e) for e in events]).hex()}")
    assert "leaves/s" in out

    lines = build_export(events)
    lines[4] = export_event_line(3, dict(events[3], type="exchange.denied"))
    bad = tmp_path / "bad.jsonl"
    bad.write_text("".join(lines), encoding="utf-8")
    assert main([str(bad), "--key", LOG_VKEY]) == 1
    assert capsys.readouterr().out.startswith("FAILED at index 3: leaf_mismatch")

    bundle = tmp_path / "bundle.json"
    bundle.write_text(json.dumps(_bundle(events, 2)), encoding="utf-8")
    assert main([str(bundle), "--bundle", "--key", LOG_VKEY]) == 0
    # Entries count from 1, as the citizen's check page shows them; leaf indexes from 0.
    assert capsys.readouterr().out == "OK: entry n° 3 (leaf index 2) is in the log of size 6\n"

    numbered = [dict(event, id=40 + i) for i, event in enumerate(events)]
    bundle.write_text(json.dumps(_bundle(numbered, 2)), encoding="utf-8")
    assert main([str(bundle), "--bundle", "--key", LOG_VKEY]) == 0
    # The event's number as the citizen's history shows it (its id), then its place.
    assert capsys.readouterr().out == "OK: event n° 42 is in the log of size 6, as entry n° 3 (leaf index 2)\n"


def test_it_runs_as_python_m_audit_tlog_and_never_imports_django(tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    export.write_text("".join(build_export(_events(3))), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-m", "audit.tlog", str(export), "--key", LOG_VKEY],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "")},
        check=False,
    )
    assert (done.returncode, done.stdout[:13]) == (0, "OK: 3 events,")
    probe = (
        "import runpy, sys\n"
        "sys.argv = sys.argv[1:]\n"
        "try:\n    runpy.run_module('audit.tlog', run_name='__main__', alter_sys=True)\n"
        "except SystemExit as done:\n    assert done.code == 0, done.code\n"
        "assert not [m for m in sys.modules if m.startswith(('django', 'core', 'gateway'))]\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, "audit.tlog", str(export), "--key", LOG_VKEY],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "")},
        check=False,
    )
    assert done.returncode == 0, done.stderr
