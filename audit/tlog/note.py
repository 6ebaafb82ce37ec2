"""C2SP signed notes (c2sp.org/signed-note) with Ed25519, and tlog checkpoints (c2sp.org/tlog-checkpoint).

A verifier key is `<name>+<key hash>+<base64(0x01 || 32-byte public key)>`, the key hash being
the first 4 bytes of SHA-256(name || 0x0A || 0x01 || public key), in hex. A note is its text,
an empty line, then one line per signature: `— <name> <base64(key hash || signature)>`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from .errors import VerificationError

# golang.org/x/mod/sumdb/note refuses more; the C2SP spec asks for at least 16.
_MAX_SIGNATURES = 100
_ED25519 = b"\x01"


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
    return hashlib.sha256(name.encode("utf-8") + b"\n" + _ED25519 + public_key_bytes).digest()[:4]


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
