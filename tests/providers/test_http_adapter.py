"""The http adapter against the real sandbox provider, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import pytest
from django.test import override_settings

from core.errors import GatewayError, ProviderError, ProviderTimeout, SubjectNotFound
from providers.adapters import adapter_for, target_for
from providers.adapters.base import FetchContext, Subject
from providers.adapters.http import HttpAdapter
from providers.demodata.population import Person, Population, demo_citizens
from providers.models import AttestationType, Organisation
from sandbox.server import INTERNAL_ERROR_DETAIL, UNDECLARED_FIELDS

QF = "cnaf.quotient-familial"
AVIS = "dgfip.avis-imposition"


def subject_of(person: Person) -> Subject:
    return Subject(
        nom_naissance=person.nom_naissance,
        prenoms=person.prenoms,
        date_naissance=person.date_naissance,
        sexe=person.sexe,
        code_cog_lieu_naissance=person.code_cog_lieu_naissance,
    )


@pytest.fixture
def alice_subject(population: Population) -> Subject:
    return subject_of(demo_citizens(population)[0])


@pytest.fixture
def context(mairie: Organisation) -> FetchContext:
    return FetchContext(purpose="tarification-sociale", consumer_siret=mairie.siret, exchange_id=uuid.uuid4())


@pytest.fixture
def qf(http_catalogue: str) -> AttestationType:
    return AttestationType.objects.get(slug=QF)


def assert_no_provider_text(error: GatewayError) -> None:
    rendered = json.dumps(error.problem(), ensure_ascii=False)
    for leak in ("ORA-", "jdbc", "RecordDao", "mainframe", "502 Bad Gateway", "<html", "subject_not_found"):
        assert leak not in rendered
    assert INTERNAL_ERROR_DETAIL not in rendered


@pytest.mark.django_db
class TestHttpAdapter:
    def test_it_is_the_adapter_of_an_http_type(self, qf: AttestationType) -> None:
        assert isinstance(adapter_for(target_for(qf)), HttpAdapter)

    def test_it_returns_only_the_requested_fields(
        self, qf: AttestationType, alice_subject: Subject, context: FetchContext, population: Population
    ) -> None:
        result = adapter_for(target_for(qf)).fetch(alice_subject, ["quotient_familial", "annee"], context)

        record = population.record(demo_citizens(population)[0], QF)
        assert record is not None
        assert result.fields == {"quotient_familial": record["quotient_familial"], "annee": record["annee"]}
        assert result.provider_reference.startswith("CNAF-")
        assert result.issued_at.tzinfo is not None

    def test_it_returns_nested_fields_checked_against_their_schema(
        self, qf: AttestationType, alice_subject: Subject, context: FetchContext
    ) -> None:
        result = adapter_for(target_for(qf)).fetch(alice_subject, ["enfants", "fournisseur"], context)

        assert set(result.fields) == {"enfants", "fournisseur"}
        assert isinstance(result.fields["enfants"], list)

    def test_it_maps_an_unknown_person_to_subject_not_found(
        self, qf: AttestationType, population: Population, context: FetchContext
    ) -> None:
        alice = demo_citizens(population)[0]
        stranger = subject_of(alice)
        stranger = Subject(
            nom_naissance="Inconnue-de-la-caf",
            prenoms=stranger.prenoms,
            date_naissance=stranger.date_naissance,
            sexe=stranger.sexe,
            code_cog_lieu_naissance=stranger.code_cog_lieu_naissance,
        )

        with pytest.raises(SubjectNotFound) as caught:
            adapter_for(target_for(qf)).fetch(stranger, ["quotient_familial"], context)

        assert caught.value.code == "subject_not_found"

    def test_it_maps_a_person_missing_from_this_dataset_to_subject_not_found(
        self, qf: AttestationType, population: Population, context: FetchContext
    ) -> None:
        known_only_to_dgfip = subject_of(demo_citizens(population)[2])

        with pytest.raises(SubjectNotFound):
            adapter_for(target_for(qf)).fetch(known_only_to_dgfip, ["quotient_familial"], context)

    def test_it_drops_fields_nobody_asked_for(
        self,
        qf: AttestationType,
        alice_subject: Subject,
        context: FetchContext,
        sandbox_fault: Callable[..., None],
    ) -> None:
        sandbox_fault("extra_fields")

        result = adapter_for(target_for(qf)).fetch(alice_subject, ["quotient_familial"], context)

        assert list(result.fields) == ["quotient_familial"]
        assert not set(UNDECLARED_FIELDS) & set(result.fields)

    def test_it_maps_a_hanging_provider_to_provider_timeout(
        self,
        qf: AttestationType,
        alice_subject: Subject,
        context: FetchContext,
        sandbox_fault: Callable[..., None],
    ) -> None:
        qf.adapter_timeout_ms = 300
        sandbox_fault("timeout")

        with pytest.raises(ProviderTimeout) as caught:
            adapter_for(target_for(qf)).fetch(alice_subject, ["quotient_familial"], context)

        assert caught.value.code == "provider_timeout"

    def test_it_waits_for_a_slow_provider_within_the_timeout(
        self,
        qf: AttestationType,
        alice_subject: Subject,
        context: FetchContext,
        sandbox_fault: Callable[..., None],
    ) -> None:
        sandbox_fault("latency", latency_ms=200)

        result = adapter_for(target_for(qf)).fetch(alice_subject, ["annee"], context)

        assert list(result.fields) == ["annee"]
        # What the adapter reports (stored with the exchange) includes the provider's own wait;
        # the bound comes from the scenario, so a slow machine cannot break it.
        assert result.duration_ms >= 200

    @pytest.mark.parametrize("fault", ["error", "garbage", "oversized", "wrong_types"])
    def test_it_maps_a_broken_answer_to_provider_error_without_the_providers_words(
        self,
        qf: AttestationType,
        alice_subject: Subject,
        context: FetchContext,
        sandbox_fault: Callable[..., None],
        fault: str,
    ) -> None:
        sandbox_fault(fault)

        with pytest.raises(ProviderError) as caught:
            adapter_for(target_for(qf)).fetch(alice_subject, ["quotient_familial", "annee"], context)

        assert caught.value.code == "provider_error"
        assert caught.value.status == 502
        assert_no_provider_text(caught.value)

    def test_it_names_the_field_that_failed_its_schema(
        self,
        qf: AttestationType,
        alice_subject: Subject,
        context: FetchContext,
        sandbox_fault: Callable[..., None],
    ) -> None:
        sandbox_fault("wrong_types")

        with pytest.raises(ProviderError) as caught:
            adapter_for(target_for(qf)).fetch(alice_subject, ["quotient_familial"], context)

        assert "'quotient_familial'" in caught.value.detail

    def test_it_leaves_other_types_alone_when_one_is_faulty(
        self,
        http_catalogue: str,
        alice_subject: Subject,
        context: FetchContext,
        sandbox_fault: Callable[..., None],
    ) -> None:
        sandbox_fault("error", slug=QF)
        avis = AttestationType.objects.get(slug=AVIS)

        result = adapter_for(target_for(avis)).fetch(alice_subject, ["revenu_fiscal_reference"], context)

        assert list(result.fields) == ["revenu_fiscal_reference"]

    def test_it_maps_a_refused_bearer_token_to_provider_error(
        self, qf: AttestationType, alice_subject: Subject, context: FetchContext, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("SANDBOX_PROVIDER_TOKEN", "wrong-token")

        with pytest.raises(ProviderError) as caught:
            adapter_for(target_for(qf)).fetch(alice_subject, ["annee"], context)

        assert "401" in caught.value.detail

    def test_it_maps_an_unreachable_provider_to_provider_error(
        self, qf: AttestationType, alice_subject: Subject, context: FetchContext
    ) -> None:
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed_port = probe.getsockname()[1]
        qf.adapter_base_url = f"http://127.0.0.1:{closed_port}"

        with pytest.raises(ProviderError):
            adapter_for(target_for(qf)).fetch(alice_subject, ["annee"], context)

    def test_it_will_not_call_a_provider_the_outbound_policy_refuses(
        self, qf: AttestationType, alice_subject: Subject, context: FetchContext
    ) -> None:
        with override_settings(OUTBOUND_ALLOWED_HOSTS=[]), pytest.raises(ProviderError) as caught:
            adapter_for(target_for(qf)).fetch(alice_subject, ["annee"], context)

        assert "outbound policy" in caught.value.detail
