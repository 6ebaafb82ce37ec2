"""The in-process adapter: answers from the synthetic population, as the sandbox provider would.

It is the embedded default (no provider to run) and what the exchange benchmark measures, so it
keeps one population per process and does no I/O.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Sequence
from functools import cache

from django.conf import settings
from django.utils import timezone

from core.errors import ProviderError, SubjectNotFound, ValidationError
from providers.adapters.base import Adapter, FetchContext, ProviderResult, Subject
from providers.demodata.population import Population

# The sandbox provider's default seed: the demo adapter and the sandbox know the same people.
DEMO_SEED = 2026


@cache
def demo_population() -> Population:
    return Population(size=getattr(settings, "SANDBOX_POPULATION_SIZE", 1000), seed=DEMO_SEED)


class DemoAdapter(Adapter):
    kind = "demo"

    def fetch(self, subject: Subject, fields: Sequence[str], context: FetchContext) -> ProviderResult:
        started = time.perf_counter()
        slug = self.target.slug
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
        if person is None or record is None:
            raise SubjectNotFound()
        unknown = [name for name in fields if name not in record]
        if unknown:
            raise ValidationError("Unknown field(s) for this attestation type.", errors={"fields": unknown})
        digest = hashlib.sha256(f"{population.seed}|{slug}|{person.index}|{context.exchange_id}".encode())
        return ProviderResult(
            fields={name: record[name] for name in dict.fromkeys(fields)},
            issued_at=timezone.now(),
            provider_reference=f"{self.target.holder_code.upper()}-{digest.hexdigest()[:20].upper()}",
            duration_ms=int((time.perf_counter() - started) * 1000),
        )
