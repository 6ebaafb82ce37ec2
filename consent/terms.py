"""The terms a citizen agrees to, as the pages show them and the artefact signs them.

One structure for the approval page, the dashboard and (later) the interactive OAuth consent
screen: `terms_build` works before any Consent row exists, `terms_for_consent` reads one.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.urls import reverse

from consent.models import Consent
from providers.models import AttestationField, AttestationType, EidasLevel, Habilitation, Organisation
from providers.rules import eidas_highest


@dataclass(frozen=True)
class TermsItem:
    attestation_type: AttestationType
    # The chosen fields, in catalogue order, with their plain-language labels.
    fields: list[AttestationField]
    habilitation: Habilitation

    @property
    def holder(self) -> Organisation:
        return self.attestation_type.holder

    @property
    def field_names(self) -> list[str]:
        return [field.name for field in self.fields]


@dataclass(frozen=True)
class Terms:
    consumer: Organisation
    items: list[TermsItem]
    purpose_code: str
    purpose_text: str
    # The catalogue's entry for the purpose code ({code, label_fr, label_en, iri}), when known.
    purpose: dict[str, Any] | None
    duration_days: int
    max_uses: int | None
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    # A company's consent is withdrawn from the company's page, by whoever may act for it.
    company_siren: str = ""

    @property
    def eidas_min(self) -> str:
        levels = [item.attestation_type.eidas_min for item in self.items] or [EidasLevel.LOW.value]
        return eidas_highest(levels)

    @property
    def eidas_min_label(self) -> str:
        return str(EidasLevel(self.eidas_min).label)

    @property
    def withdraw_url(self) -> str:
        if self.company_siren:
            return settings.GATEWAY_BASE_URL + reverse("consent:company", args=[self.company_siren])
        return settings.GATEWAY_BASE_URL + reverse("consent:dashboard")


def _purpose_entry(items: Sequence[TermsItem], code: str) -> dict[str, Any] | None:
    for item in items:
        for purpose in item.attestation_type.purposes:
            if purpose.get("code") == code:
                return dict(purpose)
    return None


def terms_build(
    *,
    consumer: Organisation,
    selections: Sequence[tuple[AttestationType, Sequence[str], Habilitation]],
    purpose_code: str,
    purpose_text: str,
    duration_days: int,
    max_uses: int | None,
    valid_from: dt.datetime | None = None,
    valid_until: dt.datetime | None = None,
) -> Terms:
    items = []
    for attestation_type, names, habilitation in selections:
        chosen = set(names)
        fields = [field for field in attestation_type.fields.all() if field.name in chosen]
        items.append(TermsItem(attestation_type=attestation_type, fields=fields, habilitation=habilitation))
    return Terms(
        consumer=consumer,
        items=items,
        purpose_code=purpose_code,
        purpose_text=purpose_text,
        purpose=_purpose_entry(items, purpose_code),
        duration_days=duration_days,
        max_uses=max_uses,
        valid_from=valid_from,
        valid_until=valid_until,
    )


def terms_for_consent(consent: Consent) -> Terms:
    """Prefetch `items__attestation_type__fields`, `…__holder` and `items__habilitation` to stay flat."""
    terms = terms_build(
        consumer=consent.consumer,
        selections=[(item.attestation_type, item.fields, item.habilitation) for item in consent.items.all()],
        purpose_code=consent.purpose_code,
        purpose_text=consent.purpose_text,
        duration_days=consent.duration_days,
        max_uses=consent.max_uses,
        valid_from=consent.valid_from,
        valid_until=consent.valid_until,
    )
    if consent.company is not None:
        terms = dataclasses.replace(terms, company_siren=consent.company.siren)
    return terms


def purpose_of(consent: Consent) -> dict[str, Any] | None:
    """The catalogue's entry for a consent's purpose code ({code, label_fr, label_en, iri}), read
    from its types already prefetched (no query of its own)."""
    for item in consent.items.all():
        for purpose in item.attestation_type.purposes:
            if purpose.get("code") == consent.purpose_code:
                return dict(purpose)
    return None
