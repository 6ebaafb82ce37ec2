from __future__ import annotations

import uuid

import pytest

from core.errors import SubjectNotFound, ValidationError
from providers.adapters import adapter_for, target_for
from providers.adapters.base import FetchContext, Subject
from providers.adapters.demo import DemoAdapter, demo_population
from providers.demodata.population import Person, demo_citizens
from providers.models import AttestationType, Organisation

BOURSIER = "cnous.etudiant-boursier"


def subject_of(person: Person) -> Subject:
    return Subject(
        nom_naissance=person.nom_naissance,
        prenoms=person.prenoms,
        date_naissance=person.date_naissance,
        sexe=person.sexe,
        code_cog_lieu_naissance=person.code_cog_lieu_naissance,
    )


@pytest.fixture
def context(mairie: Organisation) -> FetchContext:
    return FetchContext(purpose="tarif-etudiant", consumer_siret=mairie.siret, exchange_id=uuid.uuid4())


@pytest.fixture
def boursier(catalogue: None) -> AttestationType:
    return AttestationType.objects.select_related("holder").get(slug=BOURSIER)


@pytest.mark.django_db
class TestDemoAdapter:
    def test_it_is_the_adapter_of_a_demo_type(self, boursier: AttestationType) -> None:
        assert isinstance(adapter_for(target_for(boursier)), DemoAdapter)

    def test_it_returns_only_the_requested_fields_of_the_synthetic_record(
        self, boursier: AttestationType, context: FetchContext
    ) -> None:
        population = demo_population()
        alice = demo_citizens(population)[0]

        result = adapter_for(target_for(boursier)).fetch(subject_of(alice), ["echelon_bourse", "est_boursier"], context)

        record = population.record(alice, BOURSIER)
        assert record is not None
        assert result.fields == {"echelon_bourse": record["echelon_bourse"], "est_boursier": record["est_boursier"]}
        assert result.provider_reference.startswith("CNOUS-")

    def test_it_gives_the_same_reference_for_the_same_exchange(
        self, boursier: AttestationType, context: FetchContext
    ) -> None:
        alice = subject_of(demo_citizens(demo_population())[0])
        adapter = adapter_for(target_for(boursier))

        first = adapter.fetch(alice, ["est_boursier"], context)
        again = adapter.fetch(alice, ["est_boursier"], context)

        assert first.provider_reference == again.provider_reference

    def test_it_does_not_know_a_person_outside_the_population(
        self, boursier: AttestationType, context: FetchContext
    ) -> None:
        alice = demo_citizens(demo_population())[0]
        stranger = Subject(
            nom_naissance="Personne",
            prenoms=alice.prenoms,
            date_naissance=alice.date_naissance,
            sexe=alice.sexe,
            code_cog_lieu_naissance=alice.code_cog_lieu_naissance,
        )

        with pytest.raises(SubjectNotFound):
            adapter_for(target_for(boursier)).fetch(stranger, ["est_boursier"], context)

    def test_it_does_not_know_a_person_absent_from_this_dataset(
        self, boursier: AttestationType, context: FetchContext
    ) -> None:
        widow_known_only_to_dgfip = demo_citizens(demo_population())[2]

        with pytest.raises(SubjectNotFound):
            adapter_for(target_for(boursier)).fetch(subject_of(widow_known_only_to_dgfip), ["est_boursier"], context)

    def test_it_refuses_a_field_the_type_does_not_have(self, boursier: AttestationType, context: FetchContext) -> None:
        alice = demo_citizens(demo_population())[0]

        with pytest.raises(ValidationError):
            adapter_for(target_for(boursier)).fetch(subject_of(alice), ["revenu_fiscal_reference"], context)

    def test_it_keeps_one_population_per_process(self) -> None:
        assert demo_population() is demo_population()
        assert demo_population().seed == 2026
