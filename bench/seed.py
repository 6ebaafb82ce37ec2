"""Seeds the benchmark database: the catalogue, thousands of citizens with active consents for the
demo city hall, and an OAuth client. Prints a JSON line for bench/run.py.

Run by bench/run.py with DJANGO_SETTINGS_MODULE=bench.settings; not part of the product.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import uuid
from pathlib import Path

import django

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
django.setup()

from django.db import transaction  # noqa: E402
from django.utils import timezone  # noqa: E402
from oauth2_provider.models import Application  # noqa: E402

from consent.models import Citizen, Consent, ConsentItem  # noqa: E402
from providers.demo import DEMO_CONSUMER, catalogue_load, demo_habilitations_load  # noqa: E402
from providers.demodata.population import Population  # noqa: E402
from providers.models import ApiClient, AttestationType, Habilitation, Organisation  # noqa: E402

SLUG = "cnaf.quotient-familial"
# The rate limit counts per client id: runs sharing a Redis database each take their own.
CLIENT_ID = os.environ.get("SEED_CLIENT_ID", "bench-client")
CLIENT_SECRET = "bench-client-secret-not-for-production"  # noqa: S105


@transaction.atomic
def seed(citizens: int, population_size: int) -> dict[str, object]:
    catalogue_load()
    demo_habilitations_load()
    mairie = Organisation.objects.get(code=DEMO_CONSUMER)
    attestation_type = AttestationType.objects.get(slug=SLUG)
    habilitation = Habilitation.objects.get(consumer=mairie, attestation_type=attestation_type, status="approved")
    population = Population(size=population_size)
    known = [person for person in population if SLUG in population_slugs(population, person)][:citizens]
    now = timezone.now()
    citizen_rows = [
        Citizen(
            subject=f"bench-{person.index}",
            nom_naissance=person.nom_naissance,
            prenoms=" ".join(person.prenoms),
            date_naissance=person.date_naissance,
            sexe=person.sexe,
            code_cog_lieu_naissance=person.code_cog_lieu_naissance,
        )
        for person in known
    ]
    Citizen.objects.bulk_create(citizen_rows, batch_size=1000)
    consents = [
        Consent(
            id=uuid.uuid4(),
            citizen=citizen,
            consumer=mairie,
            purpose_code=habilitation.purpose_code,
            purpose_text=habilitation.purpose_text,
            duration_days=365,
            valid_from=now,
            valid_until=now + dt.timedelta(days=365),
            status=Consent.Status.ACTIVE,
            eidas_level="eidas3",
            request_expires_at=now + dt.timedelta(days=7),
            decided_at=now,
        )
        for citizen in citizen_rows
    ]
    Consent.objects.bulk_create(consents, batch_size=1000)
    ConsentItem.objects.bulk_create(
        [
            ConsentItem(
                consent=c, attestation_type=attestation_type, habilitation=habilitation, fields=habilitation.fields
            )
            for c in consents
        ],
        batch_size=1000,
    )
    application = Application.objects.create(
        client_id=CLIENT_ID,
        client_secret=CLIENT_SECRET,
        name="Benchmark client",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
    )
    ApiClient.objects.create(application=application, organisation=mairie, allowed_scopes="consents:read")
    subjects = [person.pivot_identity() for person in known]
    return {
        "slug": SLUG,
        "consents": [str(c.id) for c in consents],
        "subjects": subjects,
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "purpose": habilitation.purpose_code,
        "fields": habilitation.fields,
        "consumer_siret": mairie.siret,
    }


def population_slugs(population: Population, person: object) -> set[str]:
    return {slug for slug in [SLUG] if population.record(person, slug) is not None}  # type: ignore[arg-type]


def set_adapter(kind: str, base_url: str) -> None:
    AttestationType.objects.filter(slug=SLUG).update(
        adapter_kind=kind, adapter_base_url=base_url, adapter_token_env="SANDBOX_PROVIDER_TOKEN" if base_url else ""
    )


def count_round_trips(token: str, consent_id: str) -> int:
    """Database round trips of one exchange, counted on a real request through the full stack."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    client = Client()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(
            f"/api/v1/attestations/{SLUG}", {"consent": consent_id}, headers={"Authorization": f"Bearer {token}"}
        )
    if response.status_code != 200:
        raise SystemExit(
            f"the exchange failed while counting queries: {response.status_code} {response.content[:300]!r}"
        )
    # SAVEPOINT/RELEASE statements are round trips too; count everything the connection sent.
    return len(queries.captured_queries)


if __name__ == "__main__":
    if sys.argv[1] == "seed":
        print(json.dumps(seed(int(sys.argv[2]), int(sys.argv[3]))))
    elif sys.argv[1] == "adapter":
        set_adapter(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else "")
    elif sys.argv[1] == "count":
        print(count_round_trips(sys.argv[2], sys.argv[3]))
