from __future__ import annotations

from django.db import transaction

from consent.models import Citizen
from providers.adapters.demo import demo_population
from providers.demodata.population import Person, demo_citizens

DEMO_SUBJECT_PREFIX = "demo-"


def demo_people() -> list[Person]:
    """The demo citizens of the population the demo adapter and the sandbox provider know."""
    return demo_citizens(demo_population())


@transaction.atomic
def citizen_from_demo(*, index: int) -> Citizen:
    """The Citizen row of demo person `index`, created on first login (idempotent)."""
    person = demo_people()[index]
    return citizen_from_person(person=person, subject=f"{DEMO_SUBJECT_PREFIX}{person.index}")


@transaction.atomic
def citizen_from_person(*, person: Person, subject: str) -> Citizen:
    """The Citizen row with this login `subject`, created from the person's civil status on first
    login (idempotent: a known subject keeps its row as it is)."""
    citizen, _ = Citizen.objects.get_or_create(
        subject=subject,
        defaults={
            "nom_naissance": person.nom_naissance,
            "prenoms": " ".join(person.prenoms),
            "date_naissance": person.date_naissance,
            "sexe": person.sexe,
            "code_cog_lieu_naissance": person.code_cog_lieu_naissance,
        },
    )
    return citizen
