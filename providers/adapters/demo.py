"""The in-process adapter: answers from the synthetic population and register, as the sandbox
provider would.

It is the embedded default (no provider to run) and what the exchange benchmark measures, so it
keeps one population (and one register of companies) per process and does no I/O.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from functools import cache
from typing import Any

from django.conf import settings
from django.utils import timezone

from core.errors import ProviderError, SubjectNotFound, ValidationError
from providers.adapters.base import Adapter, AnySubject, CompanySubject, FetchContext, ProviderResult
from providers.demodata.companies import Register
from providers.demodata.population import Population

# The sandbox provider's default seed: the demo adapter and the sandbox know the same people.
DEMO_SEED = 2026


@cache
def demo_population() -> Population:
    return Population(size=getattr(settings, "SANDBOX_POPULATION_SIZE", 1000), seed=DEMO_SEED)


@cache
def demo_register() -> Register:
    return Register(demo_population())


class DemoAdapter(Adapter):
    kind = "demo"

    def fetch(self, subject: AnySubject, fields: Sequence[str], context: FetchContext) -> ProviderResult:
        started = time.perf_counter()
        slug = self.target.slug
        record: dict[str, Any] | None
        if isinstance(subject, CompanySubject):
            register = demo_register()
            company = register.find(subject.siret) or register.find(subject.siren)
            try:
                record = register.record(company, slug) if company is not None else None
            except KeyError:
                raise ProviderError("The demo register has no records of this attestation type.") from None
            key = company.siren if company is not None else ""
        else:
            population = demo_population()
            person = population.find(
                subject.nom_naissance,
                subject.prenoms,
                subject.date_naissance,
                subject.sexe,
                subject.code_cog_lieu_naissance,
            )
            try:
                record = population.record(person, slug) if person is not None else None
            except KeyError:
                # A type added to the catalogue with the demo adapter but no synthetic dataset.
                raise ProviderError("The demo dataset has no records of this attestation type.") from None
            key = str(person.index) if person is not None else ""
        if record is None:
            raise SubjectNotFound()
        unknown = [name for name in fields if name not in record]
        if unknown:
            raise ValidationError("Unknown field(s) for this attestation type.", errors={"fields": unknown})
        digest = hashlib.sha256(f"{DEMO_SEED}|{slug}|{key}|{context.exchange_id}".encode())
        return ProviderResult(
            fields={name: record[name] for name in dict.fromkeys(fields)},
            issued_at=timezone.now(),
            provider_reference=f"{self.target.holder_code.upper()}-{digest.hexdigest()[:20].upper()}",
            duration_ms=int((time.perf_counter() - started) * 1000),
        )
