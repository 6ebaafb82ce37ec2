"""A deterministic synthetic register of companies, and the people of the population who
represent them.

`Register(population, size)` always yields the same companies, with the same SIREN and SIRET
(fictional, Luhn-valid, all starting with 99 so they are never mistaken for the real register), the
same officers (people of the synthetic population, so that the gateway can match a logged-in
person's pivot identity against the register's answer) and the same records for the three company
attestation types of the catalogue, in API Entreprise's field names.

The first companies are cast for the demo and the tests (`DEMO_COMPANIES`): demo person 1 manages
a joinery and a closed bakery, demo person 2 chairs a workshop. Everyone else is drawn by chance.

A register changes: an officer leaves the company (`depart`) and its answer stops listing them,
which is how the gateway learns that someone no longer represents a company. Departures live in
this object only (the sandbox exposes them at /_sandbox/register).

All of it is fiction.
"""

from __future__ import annotations

import random
import string
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from providers.demodata.catalogue import ATTESTATION_FISCALE, ATTESTATION_VIGILANCE, MANDATAIRES_SOCIAUX
from providers.demodata.population import REFERENCE_DATE, Person, Population
from providers.siret import luhn_complete

VIGILANCE = ATTESTATION_VIGILANCE.slug
FISCALE = ATTESTATION_FISCALE.slug
MANDATAIRES = MANDATAIRES_SOCIAUX.slug
COMPANY_DATASETS: tuple[str, ...] = (VIGILANCE, FISCALE, MANDATAIRES)
DEFAULT_SIZE = 60


@dataclass(frozen=True, slots=True)
class Officer:
    person_index: int
    fonction: str


@dataclass(frozen=True, slots=True)
class Company:
    index: int
    siren: str
    siret: str
    denomination: str
    forme_juridique: str
    # INSEE's état administratif: "A" active, "F" closed (fermé).
    etat_administratif: str
    officers: tuple[Officer, ...]
    # Up to date with its social contributions (Urssaf) and its taxes (DGFiP).
    social_ok: bool
    tax_ok: bool

    @property
    def active(self) -> bool:
        return self.etat_administratif == "A"

    def as_dict(self) -> dict[str, Any]:
        return {
            "siren": self.siren,
            "siret": self.siret,
            "denomination": self.denomination,
            "forme_juridique": self.forme_juridique,
            "etat_administratif": self.etat_administratif,
        }


@dataclass(frozen=True, slots=True)
class DemoCompany:
    index: int
    denomination: str
    forme_juridique: str
    etat_administratif: str
    officers: tuple[Officer, ...]


DEMO_COMPANIES: tuple[DemoCompany, ...] = (
    DemoCompany(0, "Menuiserie Exemple", "SARL", "A", (Officer(1, "Gérant"),)),
    DemoCompany(1, "Atelier de Démonstration", "SAS", "A", (Officer(2, "Président"),)),
    DemoCompany(2, "Ancienne Boulangerie Exemple", "SARL", "F", (Officer(1, "Gérant"),)),
)
_DEMO_BY_INDEX: Mapping[int, DemoCompany] = {company.index: company for company in DEMO_COMPANIES}

_TRADES = (
    "Plomberie",
    "Électricité",
    "Maçonnerie",
    "Peinture",
    "Couverture",
    "Paysages",
    "Transports",
    "Nettoyage",
    "Informatique",
    "Restauration",
    "Imprimerie",
    "Serrurerie",
)
_FORMS = (("SARL", "Gérant"), ("SAS", "Président"), ("EURL", "Gérant"), ("SA", "Directeur général"))


class Register:
    def __init__(self, population: Population, size: int = DEFAULT_SIZE) -> None:
        self.population = population
        self.companies: tuple[Company, ...] = self._generate(size)
        self._by_number: dict[str, Company] = {}
        for company in self.companies:
            self._by_number[company.siren] = company
            self._by_number[company.siret] = company
        self._lock = threading.Lock()
        self._departed: set[tuple[str, int]] = set()

    def __iter__(self) -> Iterator[Company]:
        return iter(self.companies)

    def __getitem__(self, index: int) -> Company:
        return self.companies[index]

    def _generate(self, size: int) -> tuple[Company, ...]:
        rng = random.Random(f"sandbox-register:{self.population.seed}")
        adults = [person.index for person in self.population.people[len(DEMO_COMPANIES) + 1 :] if person.age() >= 18]
        companies: list[Company] = []
        sirens: set[str] = set()
        for index in range(size):
            siren = luhn_complete(f"99{rng.randrange(10**6):06d}")
            while siren in sirens:
                siren = luhn_complete(f"99{rng.randrange(10**6):06d}")
            sirens.add(siren)
            siret = luhn_complete(f"{siren}0001")
            demo = _DEMO_BY_INDEX.get(index)
            if demo is not None:
                name, form, state, officers = (
                    demo.denomination,
                    demo.forme_juridique,
                    demo.etat_administratif,
                    demo.officers,
                )
            else:
                form, office = rng.choice(_FORMS)
                surname = self.population.people[rng.choice(adults)].nom_naissance
                name = f"{rng.choice(_TRADES)} {surname}"
                state = "F" if rng.random() < 0.1 else "A"
                officers = tuple(Officer(at, office) for at in sorted(set(rng.sample(adults, rng.choice((1, 1, 2))))))
            social_ok = demo is not None or rng.random() < 0.9
            tax_ok = demo is not None or rng.random() < 0.9
            companies.append(
                Company(
                    index,
                    siren,
                    siret,
                    name,
                    form,
                    state,
                    officers,
                    social_ok and state == "A",
                    tax_ok and state == "A",
                )
            )
        return tuple(companies)

    def find(self, number: str) -> Company | None:
        """The company with this SIREN or SIRET (of its head office), or None."""
        return self._by_number.get(number)

    def officers(self, company: Company) -> list[tuple[Person, str]]:
        """The people the register lists for `company` now, with their office."""
        with self._lock:
            departed = {index for siren, index in self._departed if siren == company.siren}
        return [
            (self.population.people[officer.person_index], officer.fonction)
            for officer in company.officers
            if officer.person_index not in departed
        ]

    def depart(self, siren: str, person_index: int) -> None:
        """The officer leaves the company: the register's answer no longer lists them."""
        with self._lock:
            self._departed.add((siren, person_index))

    def reinstate(self, siren: str | None = None, person_index: int | None = None) -> None:
        """Undoes departures (all of them without arguments)."""
        with self._lock:
            self._departed = {
                (s, i)
                for s, i in self._departed
                if not ((siren is None or s == siren) and (person_index is None or i == person_index))
            }

    def record(self, company: Company, slug: str) -> dict[str, Any] | None:
        """Every field of company attestation type `slug` for `company`; None when the
        administration would deliver none (a closed company, one not up to date)."""
        rng = random.Random(f"{self.population.seed}:{company.siren}:{slug}")
        if slug == MANDATAIRES:
            return {
                "mandataires_sociaux": [
                    {
                        "type": "personne_physique",
                        "nom": person.nom_naissance.upper(),
                        "prenoms": " ".join(person.prenoms),
                        "date_naissance": person.date_naissance.isoformat(),
                        "code_insee_lieu_naissance": person.code_cog_lieu_naissance,
                        "fonction": fonction,
                    }
                    for person, fonction in self.officers(company)
                ]
            }
        if slug == VIGILANCE:
            if not company.active:
                return None
            start = REFERENCE_DATE.replace(day=1) - timedelta(days=rng.randint(0, 120))
            return {
                "entity_status": (
                    {"code": "ok", "libelle": "Attestation délivrée"}
                    if company.social_ok
                    else {"code": "refus_de_delivrance", "libelle": "Refus de délivrance"}
                ),
                "date_debut_validite": start.isoformat(),
                "date_fin_validite": (start + timedelta(days=182)).isoformat(),
                "code_securite": "".join(rng.choices(string.ascii_uppercase + string.digits, k=15)),
            }
        if slug == FISCALE:
            if not company.tax_ok:
                return None
            issued = REFERENCE_DATE - timedelta(days=rng.randint(0, 30))
            return {
                "date_delivrance_attestation": issued.isoformat(),
                "date_periode_analysee": date(issued.year, issued.month, 1).isoformat(),
            }
        raise KeyError(slug)
