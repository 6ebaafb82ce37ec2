"""Revocation against fetch, 200 times, over real HTTP on a threaded server: no attestation is
delivered after the revocation's answer, and whatever was delivered committed before it."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import requests

from audit.models import AuditEvent, EventType
from consent.models import Consent
from consent.services.citizens import citizen_from_person
from providers.models import Organisation
from tests.conftest import ApiCaller
from tests.faults.test_broker_outage import QF, active_consent

pytestmark = pytest.mark.faults

RACES = 200


def race(base: str, headers: dict[str, str], consent: Consent) -> tuple[int, int]:
    """A fetch and a revocation of `consent` sent at the same moment; their statuses."""
    start = threading.Barrier(2)
    answers: dict[str, int] = {}

    def fetch() -> None:
        start.wait()
        url = f"{base}/api/v1/attestations/{QF}"
        answers["fetch"] = requests.get(
            url, params={"consent": str(consent.pk)}, headers=headers, timeout=30
        ).status_code

    def revoke() -> None:
        start.wait()
        url = f"{base}/api/v1/consents/{consent.pk}"
        answers["revoke"] = requests.delete(url, headers=headers, timeout=30).status_code

    threads = [threading.Thread(target=fetch), threading.Thread(target=revoke)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return answers["fetch"], answers["revoke"]


def test_no_delivery_after_a_revocation_s_answer(
    live_server: Any,
    settings: Any,
    mairie: Organisation,
    make_caller: Callable[..., ApiCaller],
    population: Any,
) -> None:
    settings.RATE_LIMIT_PER_MINUTE = 100_000
    caller = make_caller(mairie, f"consents:read consents:write attestations:{QF}")
    people = [person for person in population if population.record(person, QF) is not None][:RACES]
    consents = [
        active_consent(mairie, caller, citizen_from_person(person=person, subject=f"race-{person.index}"))
        for person in people
    ]
    outcomes: list[tuple[Consent, int, int, int]] = []

    for consent in consents:
        fetched, revoked = race(live_server.url, caller.headers, consent)
        # After the revocation's answer, the very next request is refused.
        after = requests.get(
            f"{live_server.url}/api/v1/attestations/{QF}",
            params={"consent": str(consent.pk)},
            headers=caller.headers,
            timeout=30,
        )
        assert after.json()["code"] == "consent_revoked"
        outcomes.append((consent, fetched, revoked, after.status_code))

    assert all(revoke == 204 and after == 403 for _, _, revoke, after in outcomes)
    assert {fetch for _, fetch, _, _ in outcomes} <= {200, 403}
    for consent, fetch, _, _ in outcomes:
        revocation = AuditEvent.objects.get(type=EventType.CONSENT_REVOKED, consent_id=consent.pk)
        delivered = AuditEvent.objects.filter(type=EventType.EXCHANGE_SUCCEEDED, consent_id=consent.pk)
        # A delivery happened only if it committed before the revocation (events are numbered in
        # the order the consent's row lock let them through), and never more than once.
        assert delivered.count() == (1 if fetch == 200 else 0)
        assert all(event.pk < revocation.pk for event in delivered)
        assert Consent.objects.get(pk=consent.pk).uses == (1 if fetch == 200 else 0)
