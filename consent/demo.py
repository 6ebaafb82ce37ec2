"""Demo data of the consent app: one pending request and one active consent for demo citizen 0.

Runs after providers.demo.seed (catalogue and the city hall's habilitations). Idempotent: the two
consents are found again by their reference, never duplicated.
"""

from __future__ import annotations

from typing import TextIO

from django.conf import settings

from consent.models import Consent
from consent.services import approval_url, consent_approve, consent_request_create
from consent.services.citizens import citizen_from_demo
from providers.demo import DEMO_CONSUMER
from providers.models import EidasLevel, Organisation

PENDING_REFERENCE = "demo-cantine-2026"
ACTIVE_REFERENCE = "demo-tarif-etudiant-2026"


def seed(out: TextIO) -> None:
    mairie = Organisation.objects.get(code=DEMO_CONSUMER)
    citizen = citizen_from_demo(index=0)

    pending = Consent.objects.filter(consumer=mairie, reference=PENDING_REFERENCE).first()
    if pending is None or pending.status != Consent.Status.PENDING:
        pending = consent_request_create(
            consumer=mairie,
            client=None,
            attestation_types=["cnaf.quotient-familial"],
            fields=None,
            purpose_code="tarification-sociale",
            purpose_text="Calcul du tarif de la cantine scolaire et du centre de loisirs de vos enfants.",
            duration_days=365,
            max_uses=None,
            reference=PENDING_REFERENCE,
        )
    if not Consent.objects.filter(consumer=mairie, reference=ACTIVE_REFERENCE, citizen=citizen).exists():
        request = consent_request_create(
            consumer=mairie,
            client=None,
            attestation_types=["mesr.statut-etudiant"],
            fields=None,
            purpose_code="tarif-etudiant",
            purpose_text="Tarif étudiant de la médiathèque municipale.",
            duration_days=180,
            max_uses=12,
            reference=ACTIVE_REFERENCE,
        )
        consent_approve(consent=request, citizen=citizen, eidas_level=EidasLevel.SUBSTANTIAL)
    out.write(f"Consents: a request awaits demo citizen 0 at {approval_url(pending)}\n")
    if settings.DEMO_MODE:
        out.write(f"  (log in at {settings.GATEWAY_BASE_URL}/connexion/demo/ as the first person)\n")
