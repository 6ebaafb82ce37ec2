"""The public catalogue API: which attestations exist, who holds them and what they contain."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from providers.models import AttestationType
from providers.schemas import delivered_schema
from providers.selectors import attestation_type_get, catalogue_list

CATALOGUE_TAG = "catalogue"


class CatalogueLocalizedTextSerializer(serializers.Serializer[Any]):
    fr = serializers.CharField()
    en = serializers.CharField()


class CatalogueHolderSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    siret = serializers.CharField(help_text="14-digit SIRET of the administration holding the data.")
    code = serializers.CharField(help_text="Short code, the prefix of its attestation types' slugs.")


# `label` and `fields` are also attribute names of DRF's own classes, hence the type: ignore below:
# the v1 contract names these members, not the framework.


class CatalogueFieldSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(help_text="The unit of consent and data minimisation.")
    label = CatalogueLocalizedTextSerializer()  # type: ignore[assignment]
    type = serializers.CharField(help_text="JSON type of the value.")
    schema = serializers.DictField(help_text="JSON Schema of the value (draft 2020-12).")


class CataloguePurposeSerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    label = CatalogueLocalizedTextSerializer()  # type: ignore[assignment]
    iri = serializers.CharField(help_text="DPV purpose IRI.")


class CatalogueLegalBasisSerializer(serializers.Serializer[Any]):
    text = serializers.CharField(help_text="The legal basis in French, the text that has legal force.")
    text_en = serializers.CharField(help_text="Its English rendering, for information (the French text if none).")
    reference = serializers.CharField()


class CatalogueAttestationTypeOutputSerializer(serializers.Serializer[Any]):
    slug = serializers.CharField(help_text="`<holder>.<name>`, e.g. `cnaf.quotient-familial`.")
    title = CatalogueLocalizedTextSerializer()
    description = CatalogueLocalizedTextSerializer()
    holder = CatalogueHolderSerializer()
    fields = CatalogueFieldSerializer(many=True)  # type: ignore[assignment]
    subject_kind = serializers.ChoiceField(choices=AttestationType.SubjectKind.choices)
    eidas_min = serializers.ChoiceField(
        choices=["eidas1", "eidas2", "eidas3"], help_text="Minimum eIDAS level of the citizen's login."
    )
    legal_basis = CatalogueLegalBasisSerializer()
    purposes = CataloguePurposeSerializer(many=True)
    json_schema = serializers.DictField(help_text="JSON Schema of the delivered `fields` object with every field.")


def attestation_type_document(attestation_type: AttestationType) -> dict[str, Any]:
    fields = list(attestation_type.fields.all())
    return {
        "slug": attestation_type.slug,
        "title": {"fr": attestation_type.title_fr, "en": attestation_type.title_en},
        "description": {"fr": attestation_type.description_fr, "en": attestation_type.description_en},
        "holder": {
            "name": attestation_type.holder.name,
            "siret": attestation_type.holder.siret,
            "code": attestation_type.holder.code,
        },
        "fields": [
            {
                "name": field.name,
                "label": {"fr": field.label_fr, "en": field.label_en},
                "type": field.json_type,
                "schema": field.json_schema(),
            }
            for field in fields
        ],
        "subject_kind": attestation_type.subject_kind,
        "eidas_min": attestation_type.eidas_min,
        "legal_basis": {
            "text": attestation_type.legal_basis_text,
            "text_en": attestation_type.legal_basis_text_en or attestation_type.legal_basis_text,
            "reference": attestation_type.legal_basis_reference,
        },
        "purposes": [
            {
                "code": purpose.get("code", ""),
                "label": {"fr": purpose.get("label_fr", ""), "en": purpose.get("label_en", "")},
                "iri": purpose.get("iri", ""),
            }
            for purpose in attestation_type.purposes
        ],
        "json_schema": delivered_schema(fields),
    }


class CatalogueListApi(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="catalogue_attestation_types_list",
        tags=[CATALOGUE_TAG],
        summary="List the attestation types (public)",
        auth=[],
        responses={
            200: inline_serializer(
                "CatalogueAttestationTypeList",
                fields={"attestation_types": CatalogueAttestationTypeOutputSerializer(many=True)},
            )
        },
    )
    def get(self, request: Request) -> Response:
        documents = [attestation_type_document(item) for item in catalogue_list()]
        return Response({"attestation_types": CatalogueAttestationTypeOutputSerializer(documents, many=True).data})


class CatalogueDetailApi(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="catalogue_attestation_types_retrieve",
        tags=[CATALOGUE_TAG],
        summary="One attestation type (public)",
        auth=[],
        responses={
            200: CatalogueAttestationTypeOutputSerializer,
            404: OpenApiResponse(description="No attestation type has this slug (problem+json, code `not_found`)."),
        },
    )
    def get(self, request: Request, slug: str) -> Response:
        attestation_type = attestation_type_get(slug)
        return Response(CatalogueAttestationTypeOutputSerializer(attestation_type_document(attestation_type)).data)
