"""A citizen's whole journey in a real Chromium: a request made through the API, the login, the
approval page with its preview, the dashboard's pause / resume / revoke, the history and a proof
that verifies offline."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from playwright.sync_api import Page, expect
from pytest_django.live_server_helper import LiveServer

from audit.models import AuditEvent, EventType
from audit.sealer import log_seal, log_verifier_key
from audit.tlog.errors import VerificationError
from audit.tlog.export import verify_bundle
from consent.models import Consent
from tests.conftest import ApiCaller
from tests.e2e.conftest import accessibility_problems, demo_login

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

QF = "cnaf.quotient-familial"
AVIS = "dgfip.avis-imposition"
# Screenshots for a human look at the layout, outside the repository; set E2E_SHOTS="" to skip.
SHOTS = os.environ.get("E2E_SHOTS", "/tmp/e2e-shots")


def request_consent(live_server: LiveServer, caller: ApiCaller, types: list[str]) -> tuple[Consent, str]:
    """POST /api/v1/consent-requests with the consumer's bearer token, over real HTTP."""
    response = requests.post(
        f"{live_server.url}/api/v1/consent-requests",
        json={
            "attestation_types": types,
            "purpose": {"code": "tarification-sociale", "text": "Tarif de la cantine scolaire"},
            "duration_days": 90,
            "reference": "dossier-e2e",
        },
        headers=caller.headers,
        timeout=10,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    # The approval_url carries the configured public base URL; the browser goes to the live server.
    return Consent.objects.get(pk=body["id"]), live_server.url + urlsplit(body["approval_url"]).path


def shoot(page: Page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


def assert_accessible(page: Page) -> None:
    assert accessibility_problems(page) == [], page.url


class TestConsentJourney:
    def test_a_citizen_approves_previews_manages_and_proves(
        self, page: Page, live_server: LiveServer, mairie_caller: ApiCaller, script_errors: list[str]
    ) -> None:
        consent, approval = request_consent(live_server, mairie_caller, [QF])

        page.goto(live_server.url + "/")
        assert_accessible(page)
        # Not logged in: the approval page sends the citizen to the login, then back.
        page.goto(approval)
        expect(page).to_have_url(re.compile(r"/connexion/\?next="))
        assert_accessible(page)
        page.get_by_role("link", name="Connexion de démonstration").click()
        assert_accessible(page)
        page.go_back()
        demo_login(page, index=0, level="eidas2")
        expect(page).to_have_url(approval)

        # Who asks, what, why, until when.
        expect(page.get_by_role("heading", level=1)).to_have_text("Demande d'accès à vos données")
        main = page.locator("main")
        expect(main).to_contain_text("Mairie de Villeurbanne")
        expect(main).to_contain_text(mairie_caller.organisation.siret)
        expect(main).to_contain_text("Quotient familial CAF / MSA")
        expect(main).to_contain_text("Tarif de la cantine scolaire")
        expect(main).to_contain_text("90")
        assert_accessible(page)
        shoot(page, "approval-fr")

        # The preview shows her real data (the in-process demo adapter), to her only.
        page.get_by_role("button", name="Voir les données avant de décider").click()
        preview = page.locator("section", has=page.get_by_role("heading", name="Aperçu de vos données"))
        expect(preview).to_be_visible()
        # In words: an amount in euros, the month by name, never a JSON structure.
        expect(preview.locator(".gw-values__row", has_text="Quotient familial (€)")).to_contain_text(
            re.compile(r"\d\s€")
        )
        expect(preview.locator(".gw-values__row", has_text="Mois du quotient")).to_contain_text(
            re.compile(r"janvier|février|mars|avril|mai|juin|juillet|août|septembre|octobre|novembre|décembre", re.I)
        )
        expect(preview).not_to_contain_text("{")
        assert AuditEvent.objects.filter(type=EventType.CITIZEN_PREVIEWED, consent_id=consent.pk).count() == 1
        assert_accessible(page)

        page.get_by_role("button", name="J'accepte").click()
        expect(page).to_have_url(f"{live_server.url}/mes-consentements/{consent.pk}/")
        expect(page.locator("main .fr-badge")).to_contain_text("Actif")
        consent.refresh_from_db()
        assert consent.status == Consent.Status.ACTIVE
        assert_accessible(page)

        # The dashboard: pause, resume, then withdraw after confirming.
        page.get_by_role("link", name="Mes consentements").first.click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Mes consentements")
        assert_accessible(page)
        page.get_by_role("button", name=re.compile("^Suspendre")).click()
        expect(page.locator("main .fr-badge")).to_contain_text("Suspendu")
        page.get_by_role("button", name=re.compile("^Reprendre")).click()
        expect(page.locator("main .fr-badge")).to_contain_text("Actif")
        page.get_by_role("link", name=re.compile("^Retirer")).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Retirer mon consentement ?")
        assert_accessible(page)
        page.get_by_role("button", name="Oui, retirer mon consentement").click()
        expect(page.locator("main .fr-badge")).to_contain_text("Retiré")
        consent.refresh_from_db()
        assert consent.status == Consent.Status.REVOKED

        # The history: every step, newest first; proofs once the sealer has run.
        page.goto(f"{live_server.url}/mes-consentements/")
        page.get_by_role("link", name=re.compile("^Historique de mes données")).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Historique de mes données")
        rows = page.locator("tbody tr")
        expect(rows.first).to_contain_text("Vous avez retiré le consentement donné à Mairie de Villeurbanne")
        types = rows.evaluate_all("rows => rows.map(row => row.dataset.eventType)")
        assert types == [
            "consent.revoked",
            "consent.resumed",
            "consent.paused",
            "consent.approved",
            "citizen.previewed",
            # Opening the link bound the request to her.
            "consent.bound",
        ]
        expect(rows.first).to_contain_text("Preuve disponible dans quelques secondes")
        expect(page.get_by_role("link", name=re.compile("^Télécharger la preuve"))).to_have_count(0)

        log_seal()
        page.reload()
        expect(page.get_by_role("link", name=re.compile("^Télécharger la preuve"))).to_have_count(6)
        assert_accessible(page)
        shoot(page, "history-fr")
        with page.expect_download() as download_info:
            page.get_by_role("link", name=re.compile("^Télécharger la preuve")).first.click()
        download = download_info.value
        assert download.suggested_filename.startswith("preuve-")
        bundle: dict[str, Any] = json.loads(Path(download.path()).read_text(encoding="utf-8"))
        assert bundle["event"]["type"] == "consent.revoked"
        verify_bundle(bundle, log_verifier_key())
        bundle["event"]["actor_kind"] = "consumer"
        with pytest.raises(VerificationError):
            verify_bundle(bundle, log_verifier_key())
        assert script_errors == []

    def test_a_login_level_too_low_gets_a_clear_message_and_no_approve_button(
        self, page: Page, live_server: LiveServer, mairie_caller: ApiCaller
    ) -> None:
        consent, approval = request_consent(live_server, mairie_caller, [AVIS])

        page.goto(approval)
        demo_login(page, index=0, level="eidas1")

        expect(page).to_have_url(approval)
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("Niveau de connexion insuffisant")
        expect(alert).to_contain_text("eIDAS substantiel")
        expect(alert.get_by_role("link", name="Me reconnecter à un niveau supérieur")).to_be_visible()
        expect(page.get_by_role("button", name="J'accepte")).to_have_count(0)
        expect(page.get_by_role("button", name="Voir les données avant de décider")).to_have_count(0)
        assert_accessible(page)
        consent.refresh_from_db()
        assert consent.status == Consent.Status.PENDING

    def test_a_citizen_rejects_and_the_request_is_closed(
        self, page: Page, live_server: LiveServer, mairie_caller: ApiCaller
    ) -> None:
        consent, approval = request_consent(live_server, mairie_caller, [QF])
        page.goto(approval)
        demo_login(page, index=0, level="eidas2")

        page.get_by_role("button", name="Je refuse").click()

        expect(page).to_have_url(f"{live_server.url}/mes-consentements/{consent.pk}/")
        expect(page.locator("main .fr-badge")).to_contain_text("Refusé")
        consent.refresh_from_db()
        assert consent.status == Consent.Status.REJECTED
        assert not AuditEvent.objects.filter(type=EventType.CITIZEN_PREVIEWED, consent_id=consent.pk).exists()
        page.goto(approval)
        expect(page.get_by_role("heading", name="Cette demande a déjà reçu une réponse")).to_be_visible()
        expect(page.get_by_role("button", name="J'accepte")).to_have_count(0)
