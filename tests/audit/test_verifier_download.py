"""The downloadable verifier: GET /api/v1/audit/verifier.pyz, then run as an auditor runs it.

Each run is a separate `python -I` process (isolated mode: no PYTHONPATH, no current directory,
no user site-packages), so the file can only work if it carries everything but Python and
`cryptography` itself.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from audit.models import AuditEvent
from audit.sealer import log_seal
from audit.selectors import proof_bundle
from audit.verifier import PACKAGE, verifier_build

PURPOSE = "instruction-aide-sociale"
# cryptography's own imports: cffi's C backend and the OpenSSL bindings its Rust extension registers.
CRYPTOGRAPHY = {"cryptography", "_cffi_backend", "_openssl"}

# Runs the verifier as `python FILE ARGS...` would, then lists the modules that run imported.
PROBE = """
import json, runpy, sys
report, sys.argv = sys.argv[1], sys.argv[2:]
before = set(sys.modules)
try:
    runpy.run_path(sys.argv[0], run_name="__main__")
except SystemExit as done:
    code = done.code
new = set(sys.modules) - before
with open(report, "w") as f:
    json.dump({"code": code, "modules": {m: getattr(sys.modules[m], "__file__", None) for m in new}}, f)
"""


@pytest.fixture
def sealed(record: Callable[..., AuditEvent]) -> None:
    for batch in (3, 1, 4):
        for i in range(batch):
            record(citizen_ref=f"{i:064x}", purpose=PURPOSE)
        assert log_seal() is not None


@pytest.fixture
def key(client: Client, db: None) -> str:
    return client.get("/api/v1/audit/public-key").content.decode().strip()


@pytest.fixture
def pyz(client: Client, tmp_path: Path) -> Path:
    response = client.get("/api/v1/audit/verifier.pyz")
    assert response.status_code == 200
    path = tmp_path / "verifier.pyz"
    path.write_bytes(response.content)
    return path


def _run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-I", *map(str, args)], capture_output=True, text=True, cwd=cwd, env={}, check=False
    )


def _export(path: Path) -> list[str]:
    call_command("audit_export", "--output", str(path))
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


class TestDownload:
    def test_it_serves_the_package_as_one_zipapp_with_its_sha256(self, client: Client) -> None:
        response = client.get("/api/v1/audit/verifier.pyz")

        assert response.status_code == 200
        assert response["Content-Type"] == "application/zip"
        assert response["Content-Disposition"] == 'attachment; filename="verifier.pyz"'
        digest = hashlib.sha256(response.content).digest()
        assert response["Repr-Digest"] == f"sha-256=:{base64.b64encode(digest).decode()}:"
        assert response["ETag"] == f'"{digest.hex()}"'
        assert response.content.startswith(b"#!/usr/bin/env python3\n")
        with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
            names = archive.namelist()
            assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
        assert names == ["__main__.py", *(f"tlog/{path.name}" for path in sorted(PACKAGE.glob("*.py")))]
        for accept in ("application/zip", "application/octet-stream"):
            again = client.get("/api/v1/audit/verifier.pyz", headers={"Accept": accept})
            assert (again.status_code, again.content) == (200, response.content)

    def test_its_bytes_depend_on_the_source_only(self, client: Client, tmp_path: Path) -> None:
        served = client.get("/api/v1/audit/verifier.pyz").content
        # `make verifier` runs the same builder, in another interpreter and outside Django.
        built = tmp_path / "verifier.pyz"
        done = subprocess.run(
            [sys.executable, "-m", "audit.verifier", str(built)],
            cwd=PACKAGE.parents[1],
            env={},
            capture_output=True,
            text=True,
            check=False,
        )

        assert done.returncode == 0, done.stderr
        assert built.read_bytes() == served == verifier_build()


@pytest.mark.usefixtures("sealed")
class TestRunIsolated:
    def test_it_verifies_the_gateways_export_and_names_the_first_edited_event(
        self, pyz: Path, key: str, tmp_path: Path
    ) -> None:
        lines = _export(tmp_path / "trail.jsonl")
        edited = list(lines)
        edited[6] = edited[6].replace(PURPOSE, "instruction-aide-sociala")  # the header is line 0
        (tmp_path / "edited.jsonl").write_text("".join(edited), encoding="utf-8")
        deleted = lines[:3] + lines[4:]
        (tmp_path / "deleted.jsonl").write_text("".join(deleted), encoding="utf-8")

        good = _run(pyz, "trail.jsonl", "--key", key, cwd=tmp_path)
        bad = _run(pyz, "edited.jsonl", "--key", key, cwd=tmp_path)
        gap = _run(pyz, "deleted.jsonl", "--key", key, cwd=tmp_path)

        assert (good.returncode, good.stderr) == (0, "")
        assert good.stdout.startswith("OK: 8 events, 3 checkpoints, root ")
        assert (bad.returncode, bad.stderr) == (1, "")
        assert bad.stdout.startswith("FAILED at index 5: leaf_mismatch")
        assert (gap.returncode, gap.stdout[:24]) == (1, "FAILED at index 2: order")

    def test_it_checks_a_citizens_proof_bundle(self, pyz: Path, key: str, tmp_path: Path) -> None:
        event = AuditEvent.objects.filter(citizen_ref=f"{1:064x}").order_by("id").first()
        assert event is not None
        bundle = proof_bundle(event_id=event.pk, citizen_ref=event.citizen_ref)
        (tmp_path / "preuve.json").write_text(json.dumps(bundle), encoding="utf-8")
        (tmp_path / "forged.json").write_text(json.dumps({**bundle, "leaf_index": 0}), encoding="utf-8")

        good = _run(pyz, "preuve.json", "--bundle", "--key", key, cwd=tmp_path)
        forged = _run(pyz, "forged.json", "--bundle", "--key", key, cwd=tmp_path)

        index = bundle["leaf_index"]
        said = f"OK: event n° {event.pk} is in the log of size 8, as entry n° {index + 1} (leaf index {index})\n"
        assert (good.returncode, good.stdout) == (0, said)
        assert bundle["leaf_index"] != 0
        assert (forged.returncode, forged.stdout[:32]) == (1, "FAILED at index 0: root_mismatch")

    def test_it_imports_nothing_but_its_own_package_the_standard_library_and_cryptography(
        self, pyz: Path, key: str, tmp_path: Path
    ) -> None:
        _export(tmp_path / "trail.jsonl")
        (tmp_path / "probe.py").write_text(PROBE, encoding="utf-8")

        done = _run("probe.py", "report.json", pyz, "trail.jsonl", "--key", key, cwd=tmp_path)

        assert done.returncode == 0, done.stderr
        report: dict[str, Any] = json.loads((tmp_path / "report.json").read_text())
        assert report["code"] == 0
        modules: dict[str, str | None] = report["modules"]
        ours = {name: file for name, file in modules.items() if name.split(".")[0] == "tlog"}
        modules_run = {f"tlog.{path.stem}" for path in PACKAGE.glob("*.py")} - {"tlog.__init__", "tlog.__main__"}
        assert set(ours) == {"tlog", *modules_run}
        assert all(file and file.startswith(f"{pyz}/tlog/") for file in ours.values())
        others = {name.split(".")[0] for name in modules} - {"tlog"}
        assert "cryptography" in others
        assert others - set(sys.stdlib_module_names) <= CRYPTOGRAPHY
