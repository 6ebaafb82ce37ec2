"""The signed consent artefact and the citizen's receipt.

The artefact is a compact JWS (core.keys, EdDSA, kid in /.well-known/jwks.json) over the
consent's terms as approved: anyone holding the JWKS can check what the citizen agreed to without
asking us. The receipt follows the information structure of ISO/IEC TS 27560:2023 (consent record
and receipt, as profiled by the W3C DPV community group): who the controller is, for which
purposes, which data, on which legal basis, for how long, how to withdraw, and the artefact.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from audit.refs import scoped_ref
from consent.models import Consent, ConsentItem, Ground
from core.jose import sign_jws

ARTEFACT_TYP = "consent+jws"
RECEIPT_SCHEMA_VERSION = "dlnuf-consent-receipt/1.0"
RECEIPT_CONFORMS_TO = "https://w3id.org/dpv/schema/dpv-27560#receipt-record"


def _iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def _legal_bases(items: list[ConsentItem]) -> list[dict[str, str]]:
    bases = []
    for item in items:
        bases.append(
            {
                "attestation_type": item.attestation_type.slug,
                "text": item.attestation_type.legal_basis_text,
                "reference": item.habilitation.legal_basis or item.attestation_type.legal_basis_reference,
            }
        )
    return bases


def consent_artefact_payload(*, consent: Consent, items: list[ConsentItem], issued_at: dt.datetime) -> dict[str, Any]:
    """The terms the artefact signs. Only called on an approved consent (subject and window set).

    A company's consent names the company (SIREN and SIRET are public) instead of a citizen, and
    who decided for it: their keyed reference, the ground, the mandate or the register check."""
    assert consent.citizen is not None or consent.company is not None
    subject: dict[str, Any]
    if consent.company is not None:
        subject = {
            "company": {"siren": consent.company.siren, "siret": consent.company.siret, "ref": consent.company.ref},
            "decided_by": decided_by(consent),
        }
    else:
        assert consent.citizen is not None
        subject = {"citizen_ref": consent.citizen.ref}
        if consent.ground and consent.ground != Ground.SUBJECT:
            subject["decided_by"] = decided_by(consent)
    return {
        "iss": settings.GATEWAY_BASE_URL,
        "consent_id": str(consent.pk),
        "consumer": {"siret": consent.consumer.siret, "name": consent.consumer.name},
        **subject,
        "attestations": [
            {
                "type": item.attestation_type.slug,
                "provider": {"siret": item.attestation_type.holder.siret, "name": item.attestation_type.holder.name},
                "fields": list(item.fields),
            }
            for item in items
        ],
        "purpose": {"code": consent.purpose_code, "text": consent.purpose_text},
        "legal_bases": _legal_bases(items),
        "valid_from": _iso(consent.valid_from),
        "valid_until": _iso(consent.valid_until),
        "max_uses": consent.max_uses,
        "eidas_level": consent.eidas_level,
        "issued_at": _iso(issued_at),
    }


def decided_by(consent: Consent) -> dict[str, str | None]:
    """Who decided, by role and a keyed reference scoped to this consent, with what allowed them.

    The consumer holds this (the artefact, the receipt) beside the subject references of its other
    consents: the person's own reference would tell it who a guardian or a company's delegate is.
    The trail's event names them by their own reference, for auditors (consent.services.trail)."""
    return {
        "role": consent.ground or None,
        "actor_ref": scoped_ref(consent.actor.ref, f"consent\n{consent.pk}") if consent.actor is not None else None,
        "mandate": str(consent.mandate_id) if consent.mandate_id else None,
        "register_check": str(consent.register_check_id) if consent.register_check_id else None,
    }


def consent_artefact_sign(*, consent: Consent, items: list[ConsentItem], issued_at: dt.datetime) -> str:
    return sign_jws(consent_artefact_payload(consent=consent, items=items, issued_at=issued_at), typ=ARTEFACT_TYP)


def consent_receipt(*, consent: Consent) -> dict[str, Any]:
    """The receipt the citizen downloads. Prefetch items (type, holder, habilitation) to stay flat."""
    items = list(consent.items.all())
    base = settings.GATEWAY_BASE_URL
    purposes_by_code = {p["code"]: p for item in items for p in item.attestation_type.purposes}
    purpose = purposes_by_code.get(consent.purpose_code, {})
    return {
        "schema_version": RECEIPT_SCHEMA_VERSION,
        "conforms_to": RECEIPT_CONFORMS_TO,
        "receipt_id": str(uuid.uuid4()),
        "record_id": str(consent.pk),
        "timestamp": _iso(timezone.now()),
        "publisher": {"name": "Dites-le-nous une fois", "url": base},
        "pii_principal": {
            "id": consent.subject_ref or None,
            "id_type": "hmac-sha256",
            **(
                {"company": {"siren": consent.company.siren, "siret": consent.company.siret}} if consent.company else {}
            ),
        },
        **({"decided_by": decided_by(consent)} if consent.ground and consent.ground != Ground.SUBJECT else {}),
        "controllers": [
            {"name": consent.consumer.name, "siret": consent.consumer.siret, "contact": consent.consumer.dpo_email}
        ],
        "purposes": [
            {
                "code": consent.purpose_code,
                "description": consent.purpose_text,
                "label_fr": purpose.get("label_fr"),
                "label_en": purpose.get("label_en"),
                "dpv_purpose": purpose.get("iri"),
            }
        ],
        "pii_categories": [
            {
                "source": {"name": item.attestation_type.holder.name, "siret": item.attestation_type.holder.siret},
                "attestation_type": item.attestation_type.slug,
                "title": item.attestation_type.title_fr,
                "fields": list(item.fields),
            }
            for item in items
        ],
        "legal_basis": _legal_bases(items),
        "processing": {"storage": "none: the gateway forwards attestations and keeps no copy"},
        "consent": {
            "type": "explicit",
            "status": consent.status,
            "status_reason": consent.status_reason,
            "requested_at": _iso(consent.created_at),
            "given_at": _iso(consent.decided_at) if consent.valid_from else None,
            "valid_from": _iso(consent.valid_from),
            "valid_until": _iso(consent.valid_until),
            "duration_days": consent.duration_days,
            "max_uses": consent.max_uses,
            "uses": consent.uses,
            "eidas_level": consent.eidas_level,
            "version": consent.version,
        },
        "notice": {"url": base + reverse("consent:approval", args=[consent.pk])},
        "withdrawal": {
            "method": "online: 'Withdraw' on the consent's page, effective on the consumer's next request",
            # A company's consent is withdrawn from the company's page, by whoever may act for it.
            "url": base
            + (
                reverse("consent:company", args=[consent.company.siren])
                if consent.company is not None
                else reverse("consent:revoke", args=[consent.pk])
            ),
        },
        "artefact": {
            "format": "JWS compact serialization (RFC 7515), EdDSA (RFC 8037)",
            "typ": ARTEFACT_TYP,
            "jws": consent.artefact or None,
            "jwks_uri": base + "/.well-known/jwks.json",
        },
    }
