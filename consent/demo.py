from __future__ import annotations

from typing import TextIO


def seed(out: TextIO) -> None:
    """Demo data of this app (idempotent). Filled in as the app grows."""
