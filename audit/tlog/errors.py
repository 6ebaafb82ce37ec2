"""The one exception every check raises."""

from __future__ import annotations


class VerificationError(Exception):
    """A failed check, with a stable `reason` code and, for event faults, where it is.

    See `export` for the exact meaning of `index`, `upper` and `verified`.
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
        """The reason and what locates it, without the index (the command line prints that first)."""
        text = self.reason
        if self.upper is not None and self.index is not None and self.upper > self.index + 1:
            text += f", first bad event in [{self.index}, {self.upper})"
        if self.line is not None:
            text += f", line {self.line}"
        return f"{text}: {self.detail}" if self.detail else text
