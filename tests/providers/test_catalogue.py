from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils.html import escape
from jsonschema import Draft202012Validator

from providers.demodata.catalogue import ATTESTATION_TYPES, QUOTIENT_FAMILIAL
from providers.models import AttestationType

QF = "cnaf.quotient-familial"
LIST_URL = "/api/v1/catalogue/attestation-types"


@pytest.mark.django_db
class TestCatalogueApi:
    def test_it_lists_every_type_without_authentication(
        self, client: Client, catalogue: None, django_assert_num_queries: Any
    ) -> None:
        with django_assert_num_queries(2):
            response = client.get(LIST_URL)

        assert response.status_code == 200
        items = response.json()["attestation_types"]
        assert [item["slug"] for item in items] == sorted(spec.slug for spec in ATTESTATION_TYPES)

    def test_it_describes_a_type_completely(self, client: Client, catalogue: None, cnaf: Any) -> None:
        [qf] = [item for item in client.get(LIST_URL).json()["attestation_types"] if item["slug"] == QF]

        assert qf["title"] == {"fr": QUOTIENT_FAMILIAL.title_fr, "en": QUOTIENT_FAMILIAL.title_en}
        assert qf["holder"] == {"name": cnaf.name, "siret": cnaf.siret, "code": "cnaf"}
        assert qf["eidas_min"] == "eidas1"
        assert qf["subject_kind"] == "person"
        assert qf["legal_basis"]["reference"].startswith("CRPA art. L. 114-8")
        legal_basis = QUOTIENT_FAMILIAL.legal_basis
        assert (qf["legal_basis"]["text"], qf["legal_basis"]["text_en"]) == (legal_basis.text_fr, legal_basis.text_en)
        assert [p["code"] for p in qf["purposes"]] == list(QUOTIENT_FAMILIAL.purposes)
        assert qf["purposes"][0]["iri"] == "https://w3id.org/dpv#ServiceProvision"
        assert [f["name"] for f in qf["fields"]] == list(QUOTIENT_FAMILIAL.field_names)
        first = qf["fields"][0]
        assert first == {
            "name": "quotient_familial",
            "label": {"fr": "Quotient familial (€)", "en": "Family quotient (€)"},
            "type": "integer",
            "schema": {"type": "integer", "x-display": "money"},
        }

    def test_it_publishes_the_schema_of_the_delivered_document(self, client: Client, catalogue: None) -> None:
        schema = client.get(f"{LIST_URL}/{QF}").json()["json_schema"]

        Draft202012Validator.check_schema(schema)
        assert schema["required"] == list(QUOTIENT_FAMILIAL.field_names)
        assert schema["additionalProperties"] is False
        assert schema["properties"]["enfants"]["items"]["properties"]["date_naissance"]["format"] == "date"

    def test_it_shows_one_type_by_slug(self, client: Client, catalogue: None, django_assert_num_queries: Any) -> None:
        with django_assert_num_queries(2):
            response = client.get(f"{LIST_URL}/{QF}")

        assert response.status_code == 200
        assert response.json()["slug"] == QF

    def test_it_answers_an_unknown_slug_with_a_not_found_problem(self, client: Client, catalogue: None) -> None:
        response = client.get(f"{LIST_URL}/cnaf.inconnu")

        assert response.status_code == 404
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "not_found"

    def test_it_answers_a_slug_with_a_nul_byte_as_unknown_not_as_a_database_error(
        self, client: Client, catalogue: None
    ) -> None:
        api = client.get(f"{LIST_URL}/cnaf.quotient%00familial")
        page = client.get("/catalogue/cnaf.quotient%00familial/")

        assert api.status_code == 404 and api.json()["code"] == "not_found"
        assert page.status_code == 404

    def test_it_hides_a_withdrawn_type(self, client: Client, catalogue: None) -> None:
        AttestationType.objects.filter(slug=QF).update(active=False)

        slugs = [item["slug"] for item in client.get(LIST_URL).json()["attestation_types"]]

        assert QF not in slugs
        assert client.get(f"{LIST_URL}/{QF}").status_code == 404

    def test_it_ignores_a_bogus_bearer_token_on_a_public_endpoint(self, client: Client, catalogue: None) -> None:
        response = client.get(LIST_URL, headers={"Authorization": "Bearer not-a-token"})

        assert response.status_code == 200

    def test_it_keeps_a_constant_query_count_as_the_catalogue_grows(
        self, client: Client, catalogue: None, cnaf: Any, django_assert_num_queries: Any
    ) -> None:
        for index in range(5):
            extra = AttestationType.objects.create(
                slug=f"cnaf.extra-{index}",
                holder=cnaf,
                title_fr="Extra",
                title_en="Extra",
                legal_basis_text="CRPA",
            )
            extra.fields.create(name="valeur", label_fr="Valeur", label_en="Value", json_type="string")

        with django_assert_num_queries(2):
            response = client.get(LIST_URL)

        assert len(response.json()["attestation_types"]) == 13

    def test_it_is_documented_in_the_openapi_schema(self, client: Client) -> None:
        response = client.get("/api/v1/schema/", headers={"Accept": "application/vnd.oai.openapi+json"})

        assert response.status_code == 200
        paths = response.json()["paths"]
        assert "/api/v1/catalogue/attestation-types" in paths
        assert "/api/v1/catalogue/attestation-types/{slug}" in paths
        detail = paths["/api/v1/catalogue/attestation-types/{slug}"]["get"]
        # 406, 414 and 431 any operation may answer (core/limits.py, content negotiation).
        assert set(detail["responses"]) == {"200", "404", "406", "414", "431"}
        assert list(detail["responses"]["404"]["content"]) == ["application/problem+json"]


@pytest.mark.django_db
class TestCataloguePage:
    def test_it_lists_every_type_with_holder_fields_level_and_legal_basis(
        self, client: Client, catalogue: None, django_assert_max_num_queries: Any
    ) -> None:
        with django_assert_max_num_queries(2):
            response = client.get("/catalogue/")

        assert response.status_code == 200
        html = response.content.decode()
        for spec in ATTESTATION_TYPES:
            assert escape(spec.title_fr) in html
            assert f"<code>{spec.fields[0].name}</code>" in html
        assert "Caisse nationale des allocations familiales" in html
        assert escape("Direction générale des Finances publiques") in html
        assert "eIDAS substantiel" in html
        assert "CRPA art. L. 114-8" in html
        assert html.count("<caption>") == len(ATTESTATION_TYPES)
        assert '<th scope="col">' in html
        assert '<th scope="row">' in html

    def test_it_speaks_english_when_asked(self, client: Client, catalogue: None) -> None:
        response = client.get("/catalogue/", headers={"Accept-Language": "en"})

        html = response.content.decode()
        assert "Attestation catalogue" in html
        assert QUOTIENT_FAMILIAL.title_en in html
        assert "Family quotient (€)" in html

    def test_it_shows_one_type_on_its_own_page(
        self, client: Client, catalogue: None, django_assert_max_num_queries: Any
    ) -> None:
        with django_assert_max_num_queries(2):
            response = client.get(f"/catalogue/{QF}/")

        assert response.status_code == 200
        html = response.content.decode()
        assert f"<h1>{QUOTIENT_FAMILIAL.title_fr}</h1>" in html
        assert "<code>quotient_familial</code>" in html

    def test_it_answers_an_unknown_type_page_with_404(self, client: Client, catalogue: None) -> None:
        assert client.get("/catalogue/cnaf.inconnu/").status_code == 404
