"""The proof page checks the proof in the citizen's own browser (WebCrypto: SHA-256 and Ed25519),
says "verified" only when every step holds and names the step that failed otherwise; without
scripts, the gateway's own check stands in."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import transaction
from playwright.sync_api import Browser, Page, expect
from pytest_django.live_server_helper import LiveServer

from audit.models import ActorKind, EventType
from audit.sealer import log_seal
from audit.services import Actor, event_record
from consent.models import Citizen
from tests.conftest import ApiCaller
from tests.e2e.conftest import PHONE
from tests.e2e.test_citizen_pages import check, log_in
from tests.e2e.test_consent_journey import QF

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def sealed_access(caller: ApiCaller, citizen: Citizen) -> int:
    """An exchange about the citizen, as the exchange records it, sealed into the signed log with
    a few other events around it (so that its path has several steps)."""
    ids = []
    with transaction.atomic():
        for _ in range(5):
            ids.append(
                event_record(
                    type=EventType.EXCHANGE_SUCCEEDED,
                    actor=Actor(ActorKind.CONSUMER, caller.organisation.siret),
                    citizen_ref=citizen.ref,
                    consumer=caller.organisation.siret,
                    attestation_type=QF,
                    fields=["quotient_familial"],
                    purpose="tarification-sociale",
                )
            )
    log_seal()
    return ids[2]


@pytest.fixture
def proof_page(axe: Page, live_server: LiveServer, mairie_caller: ApiCaller) -> tuple[Page, str]:
    page = axe
    page.set_viewport_size(PHONE)
    log_in(page, live_server, "/mes-consentements/", index=1)
    expect(page).to_have_url(f"{live_server.url}/mes-consentements/")
    event_id = sealed_access(mairie_caller, Citizen.objects.get(subject="demo-1"))
    return page, f"{live_server.url}/mes-consentements/historique/{event_id}/"


def wait_outcome(page: Page) -> str:
    page.wait_for_function("() => document.getElementById('browser-check').dataset.outcome")
    return str(page.locator("#browser-check").get_attribute("data-outcome"))


def test_a_good_proof_is_verified_by_the_browser(proof_page: tuple[Page, str], script_errors: list[str]) -> None:
    page, base = proof_page
    page.goto(base + "verification/")
    assert wait_outcome(page) == "verified"
    browser_check = page.locator("#browser-check")
    expect(browser_check.locator("[data-result='verified']")).to_be_visible()
    expect(browser_check.locator("[data-result='failed']")).to_be_hidden()
    for step in ("fingerprint", "signature", "size", "path"):
        expect(browser_check.locator(f"[data-step='{step}'] [data-state='holds']")).to_be_visible()
    # The browser's check stands in for the gateway's.
    expect(page.locator("#server-check")).to_be_hidden()
    assert script_errors == []


def tampered(bundle: dict[str, Any], how: str) -> dict[str, Any]:
    changed = json.loads(json.dumps(bundle))
    if how == "event":
        changed["event"]["purpose"] = "autre-finalite"
    elif how == "path":
        first = changed["inclusion_proof"][0]
        changed["inclusion_proof"][0] = ("0" if first[0] != "0" else "1") + first[1:]
    elif how == "checkpoint":
        origin, size, root, *rest = changed["checkpoint"].split("\n")
        changed["checkpoint"] = "\n".join([origin, size, root[::-1], *rest])
    elif how == "index":
        changed["leaf_index"] = changed["tree_size"]
    return changed


@pytest.mark.parametrize(
    ("how", "failed_step"),
    [("event", "path"), ("path", "path"), ("checkpoint", "signature"), ("index", "size"), ("garbage", "fingerprint")],
)
def test_a_tampered_proof_is_not_verified_and_the_page_says_which_step_failed(
    proof_page: tuple[Page, str], script_errors: list[str], tmp_path: Any, how: str, failed_step: str
) -> None:
    page, base = proof_page
    page.goto(base + "verification/")
    assert wait_outcome(page) == "verified"
    bundle = page.request.get(base + "preuve.json").json()
    body = b"not a proof" if how == "garbage" else json.dumps(tampered(bundle, how)).encode()
    page.evaluate("() => { delete document.getElementById('browser-check').dataset.outcome; }")
    page.locator("#proof-file").set_input_files(
        files=[{"name": "preuve.json", "mimeType": "application/json", "buffer": body}]
    )
    assert wait_outcome(page) == f"failed:{failed_step}"
    browser_check = page.locator("#browser-check")
    expect(browser_check.locator("[data-result='failed']")).to_be_visible()
    expect(browser_check.locator("[data-result='verified']")).to_be_hidden()
    expect(browser_check.locator(f"[data-step='{failed_step}'] [data-state='fails']")).to_be_visible()
    step_text = browser_check.locator(f"[data-step='{failed_step}'] [data-text]").inner_text()
    expect(browser_check.locator("[data-failed-step]")).to_have_text(step_text)
    expect(browser_check.locator("[data-source='file']")).to_be_visible()
    check(page, "fr", f"a proof tampered with ({how})")
    assert script_errors == []


def test_without_scripts_the_gateway_s_check_shows_its_steps(
    browser: Browser, live_server: LiveServer, mairie_caller: ApiCaller
) -> None:
    context = browser.new_context(locale="fr-FR", java_script_enabled=False)
    page = context.new_page()
    try:
        log_in(page, live_server, "/mes-consentements/", index=1)
        event_id = sealed_access(mairie_caller, Citizen.objects.get(subject="demo-1"))
        page.goto(f"{live_server.url}/mes-consentements/historique/{event_id}/verification/")
        expect(page.locator("#browser-check")).to_be_hidden()
        expect(page.locator("#server-check .fr-alert--success")).to_be_visible()
        expect(page.locator("#server-check .fr-badge--success")).to_have_count(4)
    finally:
        context.close()
