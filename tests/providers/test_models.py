from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from providers.models import AttestationType, Organisation


def organisation(**overrides: object) -> Organisation:
    values: dict[str, object] = {
        "siret": "73282932000074",
        "code": "caf-test",
        "name": "CAF de test",
        "kind": Organisation.Kind.SOCIAL_SECURITY,
        "dpo_email": "dpo@caf-test.invalid",
    }
    values.update(overrides)
    return Organisation(**values)


@pytest.mark.django_db
class TestOrganisationValidation:
    def test_it_accepts_a_valid_siret(self) -> None:
        organisation().full_clean()

    @pytest.mark.parametrize("siret", ["73282932000075", "7328293200007", "abcdefghijklmn"])
    def test_it_refuses_an_invalid_siret_with_a_clear_message(self, siret: str) -> None:
        with pytest.raises(ValidationError) as caught:
            organisation(siret=siret).full_clean()
        assert [error.code for error in caught.value.error_dict["siret"]] == ["invalid_siret"]
        assert "14" in caught.value.message_dict["siret"][0]


class TestReturnUrlOrigins:
    @pytest.mark.parametrize(
        "origins",
        [[], ["https://demarches.villeurbanne.fr"], ["https://a.example.fr", "https://a.example.fr:8443"]],
    )
    def test_it_accepts_https_origins(self, origins: list[str]) -> None:
        organisation(return_url_origins=origins).clean_fields(exclude=["siret"])

    @pytest.mark.parametrize(
        ("origins", "code"),
        [
            (["https://a.example.fr/"], "origin_not_canonical"),
            (["https://a.example.fr/retour"], "origin_not_canonical"),
            (["https://a.example.fr?x=1"], "origin_not_canonical"),
            (["https://A.example.fr"], "origin_not_canonical"),
            (["https://a.example.fr:443"], "origin_not_canonical"),
            (["https://user@a.example.fr"], "origin_not_canonical"),
            (["http://a.example.fr"], "origin_not_https"),
            (["ftp://a.example.fr"], "origin_not_https"),
            (["a.example.fr"], "origin_invalid"),
            (["https://"], "origin_invalid"),
            (["https://a.example.fr", "https://a.example.fr"], "origin_duplicate"),
            ("https://a.example.fr", "origins_not_a_list"),
        ],
    )
    def test_it_refuses_anything_but_a_list_of_https_origins(self, origins: object, code: str) -> None:
        with pytest.raises(ValidationError) as caught:
            organisation(return_url_origins=origins).clean_fields(exclude=["siret"])

        assert code in [error.code for error in caught.value.error_dict["return_url_origins"]]

    def test_it_takes_a_loopback_http_origin_in_demo_mode_only(self, settings: Any) -> None:
        settings.DEMO_MODE = True
        organisation(return_url_origins=["http://127.0.0.1:8080", "http://localhost:3000"]).clean_fields()
        settings.DEMO_MODE = False

        with pytest.raises(ValidationError) as caught:
            organisation(return_url_origins=["http://127.0.0.1:8080"]).clean_fields()

        assert [error.code for error in caught.value.error_dict["return_url_origins"]] == ["origin_not_https"]


@pytest.mark.django_db
class TestAttestationTypeValidation:
    @pytest.fixture
    def cnaf_test(self) -> Organisation:
        holder = organisation(code="cnaf-test")
        holder.save()
        return holder

    def make(self, holder: Organisation, **overrides: object) -> AttestationType:
        values: dict[str, object] = {
            "slug": "cnaf-test.quotient-familial",
            "holder": holder,
            "title_fr": "Quotient familial",
            "title_en": "Family quotient",
            "legal_basis_text": "CRPA art. L. 114-8",
        }
        values.update(overrides)
        return AttestationType(**values)

    def test_it_accepts_a_holder_prefixed_slug(self, cnaf_test: Organisation) -> None:
        self.make(cnaf_test).full_clean()

    @pytest.mark.parametrize(
        "slug",
        ["cnaf-test", "CNAF-test.quotient", "cnaf-test.", ".quotient", "cnaf-test.quotient.familial", "cnaf_test.qf"],
    )
    def test_it_refuses_a_slug_not_shaped_holder_dot_name(self, cnaf_test: Organisation, slug: str) -> None:
        with pytest.raises(ValidationError) as caught:
            self.make(cnaf_test, slug=slug).full_clean()
        assert "slug" in caught.value.message_dict

    def test_it_refuses_a_slug_prefixed_with_another_holder(self, cnaf_test: Organisation) -> None:
        with pytest.raises(ValidationError) as caught:
            self.make(cnaf_test, slug="dgfip.avis-imposition").full_clean()
        assert "cnaf-test." in caught.value.message_dict["slug"][0]

    def test_it_refuses_an_http_adapter_without_a_base_url(self, cnaf_test: Organisation) -> None:
        with pytest.raises(ValidationError) as caught:
            self.make(cnaf_test, adapter_kind=AttestationType.AdapterKind.HTTP).full_clean()
        assert "adapter_base_url" in caught.value.message_dict
