"""The exchange API (v1): one view per operation, thin, problems raised as gateway errors."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.urls import reverse
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.renderers import JSONRenderer, TemplateHTMLRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.apis import QuerySerializer, SideEffectingGetApi, StrictRegexField
from core.authentication import caller_of
from core.errors import CATALOGUE, GatewayError, NotFound, ValidationError, error_class, problem_type
from gateway.services.async_exchanges import exchange_collect, exchange_submit
from gateway.services.delivery import attestation_delivered, attestation_encryption_key
from gateway.services.exchanges import exchange_perform


class AttestationSerializer(serializers.Serializer[Any]):
    type = serializers.CharField()
    issuer = serializers.CharField(help_text="SIRET of the administration that holds the data")
    issued_at = serializers.DateTimeField()
    subject_ref = serializers.CharField(help_text="Keyed hash standing for the citizen")
    consent = serializers.UUIDField()
    fields = serializers.DictField(help_text="The consented fields only")  # type: ignore[assignment]


class AttestationResultSerializer(serializers.Serializer[Any]):
    exchange_id = serializers.UUIDField()
    # Both absent for a client with an encryption key: `jwe` carries the JWS instead.
    attestation = AttestationSerializer(required=False)
    jws = serializers.CharField(
        required=False,
        help_text="Compact JWS (EdDSA) over exactly `attestation`; keys at /.well-known/jwks.json",
    )
    jwe = serializers.CharField(
        required=False,
        help_text="For a client with a `use: enc` key, in place of `attestation` and `jws`: the JWS in a "
        "compact JWE (ECDH-ES+A256KW, A256GCM) made to that key",
    )


class ExchangeStateSerializer(serializers.Serializer[Any]):
    exchange_id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=["pending", "succeeded", "denied", "failed"])
    attestation = AttestationSerializer(required=False, help_text="succeeded: handed over once")
    jws = serializers.CharField(required=False, help_text="succeeded: compact JWS over exactly `attestation`")
    problem = serializers.DictField(required=False, help_text="denied or failed: the problem the exchange met")

    class Meta:
        ref_name = "ExchangeState"


def _no_store(response: Response) -> Response:
    # An attestation is personal data: no shared or browser cache may keep it.
    response["Cache-Control"] = "no-store"
    return response


class AttestationGetApi(SideEffectingGetApi):
    class InputSerializer(QuerySerializer):
        consent = serializers.UUIDField(required=False)

    @extend_schema(
        operation_id="attestation_get",
        parameters=[
            OpenApiParameter(
                "consent", OpenApiTypes.UUID, description="Consent id (not needed with a consent-bound token)"
            )
        ],
        responses={200: AttestationResultSerializer},
        examples=[
            OpenApiExample(
                "A family quotient",
                response_only=True,
                value={
                    "exchange_id": "0b5e4c1e-8f0c-4d5e-9a43-3c1f2b7d9e10",
                    "attestation": {
                        "type": "cnaf.quotient-familial",
                        "issuer": "53469208500018",
                        "issued_at": "2026-11-30T09:12:00Z",
                        "subject_ref": "3f9a…(64 hex)",
                        "consent": "7d0c2a5e-1b9f-4c8e-a3d2-5e6f7a8b9c0d",
                        "fields": {"quotient_familial": 842},
                    },
                    "jws": "eyJhbGciOiJFZERTQSIsImtpZCI6Ii4uLiJ9.eyJ0eXBlIjoiLi4uIn0.c2lnbmF0dXJl",
                },
            )
        ],
        tags=["exchanges"],
    )
    def get(self, request: Request, slug: str) -> Response:
        caller = caller_of(request)
        serializer = self.InputSerializer(data=request.query_params)
        serializer.is_valid(raise_exception=True)
        # Before the fetch: a client that must get it encrypted and cannot gets nothing, spends nothing.
        key = attestation_encryption_key(caller)
        result = exchange_perform(caller=caller, slug=slug, consent_id=serializer.validated_data.get("consent"))
        return _no_store(Response(attestation_delivered(result.as_json(), key)))


class ExchangeCreateApi(APIView):
    class InputSerializer(serializers.Serializer[Any]):
        attestation_type = StrictRegexField(r"^[a-z0-9-]+\.[a-z0-9-]+$", max_length=100)
        consent = serializers.UUIDField(required=False)

        class Meta:
            ref_name = "ExchangeCreate"

    class OutputSerializer(serializers.Serializer[Any]):
        exchange_id = serializers.UUIDField()
        status = serializers.ChoiceField(choices=["pending", "succeeded", "denied", "failed"])

        class Meta:
            ref_name = "ExchangeAccepted"

    @extend_schema(
        operation_id="exchange_create",
        request=InputSerializer,
        responses={202: OutputSerializer, 409: None},
        examples=[
            OpenApiExample(
                "Fetch a family quotient in the background",
                request_only=True,
                value={"attestation_type": "cnaf.quotient-familial", "consent": "7d0c2a5e-1b9f-4c8e-a3d2-5e6f7a8b9c0d"},
            )
        ],
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                {"type": "string", "maxLength": 200},
                OpenApiParameter.HEADER,
                description="Same key and body: the same exchange again. Same key, other body: 409.",
            )
        ],
        tags=["exchanges"],
    )
    def post(self, request: Request) -> Response:
        caller = caller_of(request)
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        attestation_encryption_key(caller)
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 200:
            raise ValidationError(
                errors={"Idempotency-Key": [{"code": "max_length", "message": "200 characters at most."}]}
            )
        exchange, _ = exchange_submit(
            caller=caller,
            slug=serializer.validated_data["attestation_type"],
            consent_id=serializer.validated_data.get("consent"),
            idempotency_key=key,
        )
        location = reverse("exchange-get", kwargs={"exchange_id": exchange.pk})
        body = self.OutputSerializer({"exchange_id": exchange.pk, "status": exchange.status}).data
        return Response(body, status=202, headers={"Location": location})


class ExchangeGetApi(SideEffectingGetApi):
    @extend_schema(
        operation_id="exchange_get",
        responses={200: ExchangeStateSerializer, 410: None},
        tags=["exchanges"],
    )
    def get(self, request: Request, exchange_id: Any) -> Response:
        caller = caller_of(request)
        key = attestation_encryption_key(caller)
        return _no_store(Response(attestation_delivered(exchange_collect(caller=caller, exchange_id=exchange_id), key)))


class ErrorEntrySerializer(serializers.Serializer[Any]):
    code = serializers.CharField()
    status = serializers.IntegerField()
    title = serializers.CharField(help_text="The problem's title, in English")
    description = serializers.CharField(help_text="What it means and what to do, in the request's language")
    type = serializers.URLField(help_text="The problem type URI: this entry's address")

    class Meta:
        ref_name = "ErrorCatalogueEntry"


class ErrorCataloguePageRenderer(TemplateHTMLRenderer):
    """The catalogue as a page for browsers (Accept: text/html); software gets JSON."""

    template_name = "gateway/errors.html"
    exception_template_names = ["error.html"]

    def get_template_context(self, data: Any, renderer_context: Mapping[str, Any]) -> dict[str, Any]:
        response = renderer_context["response"]
        if response.exception:
            return {"title": data.get("title", ""), "status": response.status_code}
        entries = data.get("errors", [data])
        title = _("Error codes") if "errors" in data else _("Error code %(code)s") % {"code": data["code"]}
        return {
            "title": title,
            "errors": entries,
            "single": "errors" not in data,
            "catalogue_url": reverse("error-catalogue"),
        }


def _entry(error: type[GatewayError]) -> dict[str, Any]:
    return {
        "code": error.code,
        "status": error.status,
        "title": error.title,
        "description": str(error.description),
        "type": problem_type(error.code),
    }


class ErrorCatalogueView(APIView):
    http_method_names = ["get", "head"]
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]
    throttle_classes: list[type] = []
    renderer_classes = [JSONRenderer, ErrorCataloguePageRenderer]

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        if isinstance(getattr(request, "accepted_renderer", None), ErrorCataloguePageRenderer):
            response.content_type = None  # a browser's 404 is a page, not the problem's media type
        return super().finalize_response(request, response, *args, **kwargs)


class ErrorCatalogueApi(ErrorCatalogueView):
    @extend_schema(
        operation_id="errors_list",
        responses={200: inline_serializer("ErrorCatalogue", fields={"errors": ErrorEntrySerializer(many=True)})},
        tags=["errors"],
    )
    def get(self, request: Request) -> Response:
        return Response({"errors": [_entry(error) for error in CATALOGUE]})


class ErrorDetailApi(ErrorCatalogueView):
    @extend_schema(operation_id="error_retrieve", responses={200: ErrorEntrySerializer}, tags=["errors"])
    def get(self, request: Request, code: str) -> Response:
        error = error_class(code)
        if error is None:
            raise NotFound("No error has this code.")
        return Response(_entry(error))
