"""Demo data of the consent app: the companies of the demo register, one pending request (addressed
to demo citizen 0: it waits on their dashboard) and one active consent for demo citizen 0, and a
public buyer's request to the joinery demo citizen 1 manages.

Runs after providers.demo.seed (catalogue and the city hall's habilitations). Idempotent: the two
consents are found again by their reference, never duplicated.
"""

from __future__ import annotations

from typing import TextIO

from django.conf import settings

from consent.models import Company, Consent
from consent.rules import citizen_pivot_hash
from consent.services import approval_url, consent_approve, consent_request_create
from consent.services.citizens import citizen_from_demo
from providers.adapters.demo import demo_register
from providers.demo import DEMO_CONSUMER
from providers.models import EidasLevel, Organisation

PENDING_REFERENCE = "demo-cantine-2026"
ACTIVE_REFERENCE = "demo-tarif-etudiant-2026"
TENDER_REFERENCE = "demo-marche-2026-017"


def companies_load() -> int:
    """The companies of the demo register, as the gateway knows them (idempotent). Outside demo
    mode an operator loads them from the companies register (the admin, or this shape of data)."""
    for company in demo_register():
        Company.objects.update_or_create(
            siret=company.siret,
            defaults={"siren": company.siren, "name": company.denomination, "closed": not company.active},
        )
    return len(demo_register().companies)


def seed(out: TextIO) -> None:
    companies = companies_load()
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
            # Addressed to demo citizen 0, as a city hall that knows the family would: it waits on
            # their dashboard, and only they may open it.
            pivot_identity_hash=citizen_pivot_hash(citizen),
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
    joinery = demo_register()[0]
    tender = Consent.objects.filter(consumer=mairie, reference=TENDER_REFERENCE).first()
    if tender is None or tender.status != Consent.Status.PENDING:
        tender = consent_request_create(
            consumer=mairie,
            client=None,
            attestation_types=["urssaf.attestation-vigilance", "dgfip.attestation-fiscale"],
            fields=None,
            purpose_code="marche-public",
            purpose_text="Marché 2026-017 (menuiseries de l'école Jules-Ferry) : attestations du candidat retenu.",
            duration_days=180,
            max_uses=None,
            reference=TENDER_REFERENCE,
            company_siret=joinery.siret,
        )
    out.write(f"Consents: a request awaits demo citizen 0 at {approval_url(pending)}\n")
    out.write(
        f"Companies: {companies} from the demo register; a public buyer's request awaits {joinery.denomination}, "
        f"which demo citizen 1 manages, at {approval_url(tender)}\n"
    )
    if settings.DEMO_MODE:
        out.write(f"  (log in at {settings.GATEWAY_BASE_URL}/connexion/demo/ as the first person)\n")
