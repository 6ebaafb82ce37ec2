"""RFC 8785 (JSON Canonicalization Scheme) for the values audit events hold.

The subset: objects with string keys, arrays, strings, booleans, null and integers within the
I-JSON safe range (|n| < 2**53). Floats are refused rather than canonicalized: events carry none,
and refusing them keeps RFC 8785's number serialization (ECMAScript's) out of the trust base.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

# RFC 8785 numbers are IEEE 754 doubles: beyond 2**53 an integer would not round-trip.
MAX_SAFE_INTEGER = 2**53 - 1

# json.dumps(str, ensure_ascii=False) is this C function, and it escapes exactly as RFC 8785
# §3.2.2.2 does: `"`, `\\`, \b \f \n \r \t by name, other controls as \u00XX, nothing else.
canonical_string = json.encoder.encode_basestring


def _check(value: object) -> bool:
    """Refuse what is outside the subset; True if some key is not ASCII."""
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return False
    if kind is int:
        if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER:  # type: ignore[operator]
            return False
        raise ValueError(f"integer {value} is outside the I-JSON safe range")
    if kind is dict:
        odd_keys = False
        for key, item in value.items():  # type: ignore[attr-defined]
            if type(key) is not str:
                raise TypeError(f"object keys must be str, not {type(key).__name__}")
            if not key.isascii():
                odd_keys = True
            if _check(item):
                odd_keys = True
        return odd_keys
    if kind is list:
        odd_keys = False
        for item in value:  # type: ignore[attr-defined]
            if _check(item):
                odd_keys = True
        return odd_keys
    raise TypeError(f"{kind.__name__} is not supported in canonical JSON (events carry no floats)")


def _text(value: object) -> str:
    # json.dumps escapes strings exactly as RFC 8785 does; only the key order differs.
    if type(value) is dict:
        # RFC 8785 §3.2.3 sorts by UTF-16 code units, not code points: U+1F600 < U+E000.
        items = sorted(value.items(), key=lambda kv: kv[0].encode("utf-16-be"))
        return "{" + ",".join(_dumps(k) + ":" + _text(v) for k, v in items) + "}"
    if type(value) is list:
        return "[" + ",".join(_text(v) for v in value) + "]"
    return _dumps(value)


def _dumps(value: object) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def canonical_json(obj: object) -> bytes:
    """RFC 8785 canonical JSON (UTF-8) of dicts, lists, str, int (|n| < 2**53), bool and None.

    Raises TypeError or ValueError for anything outside that subset, lone surrogates included.
    """
    if _check(obj):
        text = _text(obj)
    else:
        # ASCII keys sort identically by code point and by UTF-16 unit: use the C encoder.
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("lone surrogate in string: not valid Unicode") from exc


def member_order(names: Iterable[str]) -> tuple[str, ...]:
    """Member names in the order RFC 8785 §3.2.3 writes them (UTF-16 code units).

    With `canonical_string` and `canonical_json`, what lets a caller assemble an object of fixed
    members around each value's own canonical form: RFC 8785 is compositional.
    """
    return tuple(sorted(names, key=lambda name: name.encode("utf-16-be")))
