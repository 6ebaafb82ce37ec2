"""A problem's own members (RFC 9457) never replaced by what an error adds."""

from __future__ import annotations

from core import errors


def test_a_problems_extra_members_never_replace_its_own() -> None:
    problem = errors.InvalidTransition("No.", extra={"status": "revoked", "code": "x", "consent_status": "revoked"})

    body = problem.problem()

    assert (body["status"], body["code"], body["consent_status"]) == (409, "invalid_transition", "revoked")
