"""The exchange API (v1): one view per operation, thin, problems raised as gateway errors."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.authentication import caller_of
from core.errors import ValidationError
from gateway.services.async_exchanges import exchange_collect, exchange_submit
from gateway.services.delivery import attestation_delivered, attestation_encryption_key
from gateway.services.exchanges import exchange_perform


class AttestationSerializer(serializers.Serializer):
    type = serializers.CharField()
    issuer = serializers.CharField(help_text="SIRET of the administration that holds the data")
    issued_at = serializers.DateTimeField()
    subject_ref = serializers.CharField(help_text="Keyed hash standing for the citizen")
    consent = serializers.UUIDField()
    fields = serializers.DictField(help_text="The consented fields only")  # type: ignore[assignment]


class AttestationResultSerializer(serializers.Serializer):
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


def _no_store(response: Response) -> Response:
    # An attestation is personal data: no shared or browser cache may keep it.
    response["Cache-Control"] = "no-store"
    return response


class AttestationGetApi(APIView):
    class InputSerializer(serializers.Serializer):
        consent = serializers.UUIDField(required=False)

    @extend_schema(
        operation_id="attestation_get",
        parameters=[OpenApiParameter("consent", str, description="Consent id (not needed with a consent-bound token)")],
        responses={200: AttestationResultSerializer},
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
    class InputSerializer(serializers.Serializer):
        attestation_type = serializers.CharField(max_length=100)
        consent = serializers.UUIDField(required=False)

    class OutputSerializer(serializers.Serializer):
        exchange_id = serializers.UUIDField()
        status = serializers.CharField()

    @extend_schema(
        operation_id="exchange_create",
        request=InputSerializer,
        responses={202: OutputSerializer},
        parameters=[OpenApiParameter("Idempotency-Key", str, OpenApiParameter.HEADER)],
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


class ExchangeGetApi(APIView):
    @extend_schema(operation_id="exchange_get", responses={200: AttestationResultSerializer})
    def get(self, request: Request, exchange_id: Any) -> Response:
        caller = caller_of(request)
        key = attestation_encryption_key(caller)
        return _no_store(Response(attestation_delivered(exchange_collect(caller=caller, exchange_id=exchange_id), key)))
