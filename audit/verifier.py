"""The downloadable verifier: the package audit/tlog/ as one zipapp, `verifier.pyz`.

The archive is what `python -m zipapp` makes (a shebang line, then a ZIP holding the package as
`tlog/` and a `__main__.py` that runs its command line), so `python verifier.pyz EXPORT.jsonl
--key KEY` needs only Python and `cryptography`. It is written with zipfile rather than
zipapp.create_archive, which stamps each entry with the file's modification time and mode: here
the bytes depend on the package's source alone (entries sorted, dated 1980-01-01, fixed
permissions, stored uncompressed so no zlib version shows through). The gateway serves, and
`make verifier` writes, the same file, whose SHA-256 can be published and compared.

Standard library only, like the package: `python -m audit.verifier var/verifier.pyz`.
"""

from __future__ import annotations

import hashlib
import io
import sys
import zipfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent / "tlog"
INTERPRETER = "/usr/bin/env python3"
_MAIN = b"import sys\n\nfrom tlog.cli import main\n\nsys.exit(main())\n"
# The earliest date a ZIP entry can carry: the archive must not record when it was built.
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True)
class Verifier:
    content: bytes
    sha256: bytes


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=_ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 3  # Unix, whatever the builder's system, so the permissions below read alike
    info.external_attr = 0o100644 << 16
    return info


def verifier_build() -> bytes:
    """The zipapp of audit/tlog/, byte for byte the same for the same source."""
    entries = [("__main__.py", _MAIN)]
    entries += [(f"tlog/{path.name}", path.read_bytes()) for path in sorted(PACKAGE.glob("*.py"))]
    pyz = io.BytesIO()
    pyz.write(b"#!" + INTERPRETER.encode() + b"\n")
    with zipfile.ZipFile(pyz, "w") as archive:
        for name, data in entries:
            archive.writestr(_entry(name), data)
    return pyz.getvalue()


@cache
def verifier_get() -> Verifier:
    """The verifier the gateway serves, built once per process."""
    content = verifier_build()
    return Verifier(content=content, sha256=hashlib.sha256(content).digest())


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        sys.stderr.write("usage: python -m audit.verifier OUTPUT.pyz\n")
        return 2
    output = Path(argv[0])
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(verifier_build())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
