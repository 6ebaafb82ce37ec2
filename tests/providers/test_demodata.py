from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import jsonschema
import pytest

from providers.demodata.catalogue import (
    ATTESTATION_TYPES,
    COMPANY_TYPES,
    CONSUMERS,
    ORGANISATIONS,
    PERSON_TYPES,
    PROVIDERS,
    attestation_type,
    catalogue_problems,
)
from providers.demodata.companies import COMPANY_DATASETS, DEMO_COMPANIES, Register
from providers.demodata.population import (
    BIRTHPLACES,
    DATASETS,
    MAX_SIZE,
    MIN_SIZE,
    Person,
    Population,
    canonical_name,
    demo_citizens,
)
from providers.siret import siret_is_valid

REPO_ROOT = Path(__file__).resolve().parents[2]

# Regression anchor computed once from Population(1000, seed=2026): changing how people or
# records are generated changes every demo and fixture built on them, so it must be deliberate.
FIRST_HUNDRED_SHA256 = "c98cb96b98c39be4c5c0b35287e0d4c27fab0154529fa2c67f8a0101990d2c86"


def fingerprint(population: Population, count: int = 100) -> str:
    dump = [
        {**person.as_dict(), "records": {slug: population.record(person, slug) for slug in DATASETS}}
        for person in population.people[:count]
    ]
    return hashlib.sha256(json.dumps(dump, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


@pytest.fixture(scope="module")
def population() -> Population:
    return Population(size=1000, seed=2026)


def first_with(population: Population, predicate: object) -> Person:
    return next(person for person in population if predicate(person))  # type: ignore[operator]


# Demo data, not a Django app


def test_it_loads_no_django_and_of_the_product_only_the_siret_rule() -> None:
    # The sandbox provider, a program without Django, reads this package too.
    script = "import sys, providers.demodata.population; print(*sorted(sys.modules), sep='\\n')"
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, check=True
    )
    loaded = result.stdout.split()

    assert [name for name in loaded if name.split(".")[0] in {"django", "core", "audit", "consent", "gateway"}] == []
    assert [name for name in loaded if name.split(".")[0] == "providers"] == [
        "providers",
        "providers.demodata",
        "providers.demodata.catalogue",
        "providers.demodata.population",
        "providers.siret",
    ]


# Catalogue


def test_it_gives_every_catalogue_organisation_a_distinct_valid_siret() -> None:
    assert [org.code for org in ORGANISATIONS if not siret_is_valid(org.siret)] == []
    assert len({org.siret for org in ORGANISATIONS}) == len(ORGANISATIONS)


def test_it_has_a_consistent_catalogue() -> None:
    assert catalogue_problems() == []
    assert [org.code for org in PROVIDERS] == ["cnaf", "dgfip", "mesr", "cnous", "france-travail", "urssaf", "inpi"]
    assert [org.code for org in CONSUMERS] == ["mairie-villeurbanne", "cd-rhone"]
    assert [spec.slug for spec in ATTESTATION_TYPES] == [*DATASETS, *COMPANY_DATASETS]
    assert attestation_type("dgfip.avis-imposition").min_eidas_level == "eidas2"


# Population


def test_it_builds_the_same_population_for_the_same_seed_and_size(population: Population) -> None:
    again = Population(size=1000, seed=2026)

    assert again.people == population.people
    assert fingerprint(again, 1000) == fingerprint(population, 1000)


def test_it_builds_another_population_for_another_seed(population: Population) -> None:
    other = Population(size=1000, seed=2027)

    assert [p.nom_naissance for p in other.people[:20]] != [p.nom_naissance for p in population.people[:20]]


def test_it_keeps_the_first_people_when_the_population_grows(population: Population) -> None:
    assert Population(size=5000, seed=2026).people[:1000] == population.people


def test_it_pins_the_first_hundred_people(population: Population) -> None:
    assert fingerprint(population) == FIRST_HUNDRED_SHA256


def test_it_builds_the_same_population_in_another_process(population: Population) -> None:
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); sys.path.insert(0, sys.argv[2]);"
        "from test_demodata import fingerprint;"
        "from providers.demodata.population import Population;"
        "print(fingerprint(Population(size=1000, seed=2026)))"
    )
    environment = {**os.environ, "PYTHONHASHSEED": "12345"}
    result = subprocess.run(
        [sys.executable, "-c", script, str(REPO_ROOT), str(Path(__file__).parent)],
        capture_output=True,
        text=True,
        env=environment,
        check=True,
        timeout=60,
    )

    assert result.stdout.strip() == fingerprint(population)


@pytest.mark.parametrize("size", [MIN_SIZE - 1, MAX_SIZE + 1])
def test_it_refuses_a_size_out_of_bounds(size: int) -> None:
    with pytest.raises(ValueError, match="size must be between 100 and 100000"):
        Population(size=size)


def test_it_gives_everyone_of_the_largest_population_a_unique_identity() -> None:
    # How long the build takes is measured by bench/population_bench.py, not here.
    big = Population(size=MAX_SIZE, seed=7)

    assert len(big) == MAX_SIZE
    keys = {
        (
            canonical_name(p.nom_naissance),
            canonical_name(p.prenoms[0]),
            p.date_naissance,
            p.sexe,
            p.code_cog_lieu_naissance,
        )
        for p in big
    }
    assert len(keys) == MAX_SIZE
    assert big.find(*_pivot(big.people[-1])) == big.people[-1]


def test_it_gives_everyone_a_plausible_identity(population: Population) -> None:
    codes = {code for code, _, _ in BIRTHPLACES}

    assert all(16 <= person.age() <= 90 for person in population)
    assert all(1 <= len(person.prenoms) <= 3 for person in population)
    assert {person.sexe for person in population} == {"F", "M"}
    assert all(person.code_cog_lieu_naissance in codes for person in population)
    born_abroad = sum(person.code_cog_lieu_naissance.startswith("99") for person in population)
    assert 40 <= born_abroad <= 200


def test_it_spreads_datasets_by_age(population: Population) -> None:
    students = [p for p in population if "mesr.statut-etudiant" in p.datasets]
    grant_holders = [p for p in population if "cnous.etudiant-boursier" in p.datasets]

    assert all(17 <= p.age() <= 45 for p in students)
    assert set(grant_holders) <= set(students)
    assert not any("dgfip.avis-imposition" in p.datasets for p in population if p.age() < 18)
    assert sum("dgfip.avis-imposition" in p.datasets for p in population) > 700


def _pivot(person: Person) -> tuple[str, list[str], date, str, str]:
    return (
        person.nom_naissance,
        list(person.prenoms),
        person.date_naissance,
        person.sexe,
        person.code_cog_lieu_naissance,
    )


def test_it_finds_a_person_whatever_the_case_and_the_accents(population: Population) -> None:
    accented = first_with(population, lambda p: p.nom_naissance != canonical_name(p.nom_naissance).title())
    plain_surname = canonical_name(accented.nom_naissance).upper()
    plain_given = canonical_name(accented.prenoms[0]).lower()

    found = population.find(
        plain_surname,
        [plain_given],
        accented.date_naissance.isoformat(),
        accented.sexe,
        accented.code_cog_lieu_naissance.lower(),
    )

    assert found == accented


def test_it_finds_a_hyphenated_given_name_written_with_a_space(population: Population) -> None:
    hyphenated = first_with(population, lambda p: "-" in p.prenoms[0])
    spaced = hyphenated.prenoms[0].replace("-", " ")

    assert population.find(hyphenated.nom_naissance, [spaced], *_pivot(hyphenated)[2:]) == hyphenated


def test_it_needs_only_the_first_given_name(population: Population) -> None:
    several = first_with(population, lambda p: len(p.prenoms) == 3)
    nom, prenoms, born, sexe, cog = _pivot(several)

    assert population.find(nom, prenoms[:1], born, sexe, cog) == several
    assert population.find(nom, [prenoms[0], prenoms[2]], born, sexe, cog) == several
    assert population.find(nom, prenoms[0], born, sexe, cog) == several


def test_it_does_not_find_a_person_with_a_wrong_given_name(population: Population) -> None:
    several = first_with(population, lambda p: len(p.prenoms) == 2)
    nom, prenoms, born, sexe, cog = _pivot(several)

    assert population.find(nom, [prenoms[1]], born, sexe, cog) is None
    assert population.find(nom, [prenoms[0], "Zébulon"], born, sexe, cog) is None
    assert population.find(nom, [], born, sexe, cog) is None


def test_it_matches_birth_date_sex_and_birthplace_exactly(population: Population) -> None:
    person = population.people[10]
    nom, prenoms, born, sexe, cog = _pivot(person)
    other_cog = next(code for code, _, _ in BIRTHPLACES if code != cog)

    assert population.find(nom, prenoms, born + timedelta(days=1), sexe, cog) is None
    assert population.find(nom, prenoms, born, "M" if sexe == "F" else "F", cog) is None
    assert population.find(nom, prenoms, born, sexe, other_cog) is None
    assert population.find(nom, prenoms, "not-a-date", sexe, cog) is None


def test_it_returns_every_field_of_a_record_in_the_catalogue_schema(population: Population) -> None:
    checked = 0
    for person in population.people[:300]:
        for spec in PERSON_TYPES:
            record = population.record(person, spec.slug)
            if record is None:
                continue
            assert list(record) == list(spec.field_names)
            jsonschema.validate(record, spec.json_schema())
            checked += 1

    assert checked > 300


def test_it_returns_none_for_a_dataset_the_person_is_not_in(population: Population) -> None:
    outsider = first_with(population, lambda p: "cnous.etudiant-boursier" not in p.datasets)

    assert population.record(outsider, "cnous.etudiant-boursier") is None


def test_it_refuses_an_unknown_attestation_type(population: Population) -> None:
    with pytest.raises(KeyError):
        population.record(population.people[0], "cnaf.inconnu")


def test_it_tells_the_same_household_to_the_caf_and_to_the_tax_office(population: Population) -> None:
    both = [p for p in population if {"cnaf.quotient-familial", "dgfip.avis-imposition"} <= p.datasets]

    assert len(both) > 50
    for person in both:
        caf = population.record(person, "cnaf.quotient-familial")
        tax = population.record(person, "dgfip.avis-imposition")
        assert caf is not None and tax is not None
        assert caf["nombre_enfants"] == tax["nombre_personnes_charge"] == len(caf["enfants"])


def test_it_casts_four_demo_citizens(population: Population) -> None:
    everyone, taxpayer, few, young = demo_citizens(population)

    assert everyone.datasets == frozenset(DATASETS) and everyone.age() == 22
    assert taxpayer.datasets == {
        "cnaf.quotient-familial",
        "dgfip.avis-imposition",
        "france-travail.statut-demandeur-emploi",
    }
    assert taxpayer.age() == 41
    assert few.datasets == {"dgfip.avis-imposition"} and few.age() == 67
    assert young.datasets == {"mesr.statut-etudiant"} and young.age() == 17
    assert demo_citizens(Population(size=100, seed=99))[0].datasets == frozenset(DATASETS)


def test_it_gives_the_demo_citizens_happy_path_records(population: Population) -> None:
    everyone, taxpayer, _, young = demo_citizens(population)
    jobseeker = population.record(taxpayer, "france-travail.statut-demandeur-emploi")
    family = population.record(taxpayer, "cnaf.quotient-familial")

    assert population.record(everyone, "mesr.statut-etudiant")["est_inscrit"] is True  # type: ignore[index]
    assert population.record(young, "mesr.statut-etudiant")["est_inscrit"] is True  # type: ignore[index]
    assert jobseeker is not None and jobseeker["est_inscrit"] is True
    assert family is not None and family["nombre_enfants"] == 2


# Register of companies


def test_it_casts_the_demo_companies_and_their_officers_from_the_population(population: Population) -> None:
    register = Register(population)
    joinery, workshop, bakery = (register[company.index] for company in DEMO_COMPANIES)

    assert [siret_is_valid(company.siret) and company.siret[:9] == company.siren for company in register] == [
        True
    ] * len(register.companies)
    assert len({company.siren for company in register}) == len(register.companies)
    assert [person.index for person, _ in register.officers(joinery)] == [1]
    assert [person.index for person, _ in register.officers(workshop)] == [2]
    assert (bakery.active, register.record(bakery, "urssaf.attestation-vigilance")) == (False, None)
    assert register.find(joinery.siret) == register.find(joinery.siren) == joinery


def test_it_serves_company_records_in_the_catalogue_schema_and_stops_listing_an_officer_who_left(
    population: Population,
) -> None:
    register = Register(population)
    checked = 0
    for company in register:
        for spec in COMPANY_TYPES:
            record = register.record(company, spec.slug)
            if record is None:
                continue
            jsonschema.validate(record, spec.json_schema())
            checked += 1
    joinery = register[0]
    register.depart(joinery.siren, 1)

    assert checked > 100
    assert register.record(joinery, "inpi.mandataires-sociaux") == {"mandataires_sociaux": []}
    register.reinstate()
    assert len(register.record(joinery, "inpi.mandataires-sociaux")["mandataires_sociaux"]) == 1
