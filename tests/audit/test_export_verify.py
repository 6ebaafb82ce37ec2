"""audit_export writes what audit_verify (audit.tlog) accepts, and edits are located."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from audit.exports import log_verification_status
from audit.sealer import log_seal, log_verifier_key
from audit.selectors import proof_bundle
from audit.tlog.errors import VerificationError
from audit.tlog.export import export_event_line, verify_bundle


@pytest.fixture
def sealed(record: Callable[..., Any]) -> None:
    for batch in (3, 1, 4):
        for i in range(batch):
            record(citizen_ref=f"{i:064x}", purpose="instruction-aide-sociale")
        assert log_seal() is not None


@pytest.mark.usefixtures("sealed")
class TestExportVerify:
    def test_it_exports_a_log_that_verifies(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        path = tmp_path / "export.jsonl"
        call_command("audit_export", "--output", str(path))

        call_command("audit_verify", str(path), "--key", log_verifier_key())

        assert capsys.readouterr().out.startswith("OK: 8 events, 3 checkpoints")
        lines = path.read_text().splitlines()
        assert json.loads(lines[0])["verifier_key"] == log_verifier_key()
        assert sum(1 for line in lines if '"kind":"checkpoint"' in line) == 3

    def test_it_reports_the_first_edited_event(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        path = tmp_path / "export.jsonl"
        call_command("audit_export", "--output", str(path))
        lines = path.read_text().splitlines(keepends=True)
        lines[6] = lines[6].replace("instruction-aide-sociale", "instruction-aide-sociala")  # event index 5
        path.write_text("".join(lines))

        with pytest.raises(CommandError):
            call_command("audit_verify", str(path))

        assert "FAILED at index 5" in capsys.readouterr().out

    def test_it_reports_a_deleted_event(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        path = tmp_path / "export.jsonl"
        call_command("audit_export", "--output", str(path))
        lines = path.read_text().splitlines(keepends=True)
        del lines[3]  # event index 2
        path.write_text("".join(lines))

        with pytest.raises(CommandError):
            call_command("audit_verify", str(path))

        assert "FAILED at index 2" in capsys.readouterr().out

    def test_its_postgresql_lines_are_the_lines_of_the_reference_projection(self) -> None:
        from audit.exports import export_lines
        from audit.models import LogLeaf
        from audit.sealer import event_projection

        lines = list(export_lines(checkpoints="latest"))

        leaves = LogLeaf.objects.select_related("event").order_by("index")
        expected = [export_event_line(leaf.index, event_projection(leaf.event), bytes(leaf.hash)) for leaf in leaves]
        assert lines[1:-1] == expected
        assert list(export_lines(from_index=2, to_index=5, leaf_hashes=False))[1:4] == [
            export_event_line(leaf.index, event_projection(leaf.event)) for leaf in leaves[2:5]
        ]

    def test_the_stored_log_verifies_in_the_console_check(self) -> None:
        status = log_verification_status()

        assert status is not None and status["ok"] is True and status["tree_size"] == 8

    def test_a_citizens_bundle_verifies_offline(self) -> None:
        bundle = proof_bundle(event_id=_event_id(f"{1:064x}"), citizen_ref=f"{1:064x}")

        verify_bundle(json.loads(json.dumps(bundle)), log_verifier_key())
        bundle["event"]["purpose"] = "autre"
        with pytest.raises(VerificationError):
            verify_bundle(bundle, log_verifier_key())


def _event_id(citizen_ref: str) -> int:
    from audit.models import AuditEvent

    event = AuditEvent.objects.filter(citizen_ref=citizen_ref).order_by("id").first()
    assert event is not None
    return event.pk
