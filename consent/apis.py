"""The consumer side of consents (v1 contract): ask for one, read them, end one.

The caller is an OAuth client (client_credentials) linked to an organisation by an ApiClient;
every read goes through a selector scoped to that organisation, so another organisation's consent
id answers 404 exactly like an id that does not exist.
"""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from oauth2_provider.contrib.rest_framework import TokenHasScope
from rest_framework import exceptions as drf_exceptions
from rest_framework import serializers
from rest_framework.pagination import CursorPagination
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import ActorKind
from audit.services import Actor
from consent.models import Consent
from consent.rules import one_time_code_ref, one_time_code_shown
from consent.selectors import consent_get_for_consumer, consents_for_consumer
from consent.services import approval_url, consent_request_create, consent_revoke
from consent.services.requests import MAX_DURATION_DAYS, MAX_USES, consent_renewal_request, one_time_code_new
from consent.services.webhooks import webhook_public_keys
from core.apis import QuerySerializer, StrictBooleanField, StrictCharField, StrictIntegerField
from core.authentication import caller_of
from core.errors import ScopeMissing, ValidationError, field_errors
from providers.models import Organisation
from providers.selectors import organisation_get

PROBLEM = inline_serializer(
    "Problem",
    fields={
        "type": serializers.CharField(),
        "title": serializers.CharField(),
        "status": serializers.IntegerField(),
        "detail": serializers.CharField(),
        "code": serializers.CharField(),
    },
)


class ConsumerTokenHasScope(TokenHasScope):
    """TokenHasScope that names the problem (a valid token without the scope is `scope_missing`),
    with the scope chosen per HTTP method (`view.scopes`), for views serving two operations."""

    def get_scopes(self, request: Request, view: Any) -> list[str]:
        method = "GET" if request.method == "HEAD" else request.method
        # Methods the view does not serve need no scope: they end in 405 right after.
        return list(view.scopes.get(method or "", []))

    def has_permission(self, request: Request, view: Any) -> bool:
        if not request.auth:
            return False  # DRF answers 401 with WWW-Authenticate
        if not super().has_permission(request, view):
            raise ScopeMissing(f"This operation needs the scope {' '.join(self.get_scopes(request, view))}.")
        return True


def validated(serializer: serializers.Serializer[Any]) -> dict[str, Any]:
    if not serializer.is_valid():
        details = drf_exceptions.ValidationError(serializer.errors).get_full_details()
        raise ValidationError("Some fields are missing or invalid.", errors=field_errors(details))
    return dict(serializer.validated_data)


class ConsumerApi(APIView):
    permission_classes = [ConsumerTokenHasScope]
    scopes: dict[str, list[str]] = {}

    def consumer(self, request: Request) -> Organisation:
        return organisation_get(organisation_id=caller_of(request).organisation_id)


# The bounds are the service's rule (consent.services.requests.limits_check, code `out_of_range`):
# the schema states them, the service enforces them.
@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_DURATION_DAYS})
class DurationDaysField(StrictIntegerField):
    pass


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": MAX_USES, "nullable": True})
class MaxUsesField(StrictIntegerField):
    pass


class PurposeSerializer(serializers.Serializer[Any]):
    code = StrictCharField(max_length=100)
    text = StrictCharField(max_length=1000, required=False, allow_blank=True, default="")


class CompanySubjectSerializer(serializers.Serializer[Any]):
    siret = StrictCharField(max_length=14, min_length=14)


class ConsentOutputSerializer(serializers.Serializer[Consent]):
    class Meta:
        ref_name = "Consent"

    id = serializers.UUIDField()
    status = serializers.ChoiceField(choices=Consent.Status.choices)
    status_reason = serializers.CharField()
    approval_url = serializers.SerializerMethodField()
    request_expires_at = serializers.DateTimeField()
    attestation_types = serializers.SerializerMethodField()
    # method_name: the default, get_fields, is Serializer's own method.
    fields = serializers.SerializerMethodField(method_name="fields_by_type")  # type: ignore[assignment]
    purpose = serializers.SerializerMethodField()
    duration_days = serializers.IntegerField()
    max_uses = serializers.IntegerField(allow_null=True)
    uses = serializers.IntegerField()
    valid_from = serializers.DateTimeField(allow_null=True)
    valid_until = serializers.DateTimeField(allow_null=True)
    decided_at = serializers.DateTimeField(allow_null=True)
    reference = serializers.CharField()
    return_url = serializers.CharField()
    created_at = serializers.DateTimeField()
    version = serializers.IntegerField()
    artefact = serializers.SerializerMethodField(help_text="Compact JWS over the terms (while active).")
    one_time_code = serializers.SerializerMethodField(
        help_text=(
            "The code to give the person, by your own channel, when the request asked for one: in the "
            "response that created the request only (the gateway keeps a hash of it, never the code)."
        )
    )
    subject = serializers.SerializerMethodField(
        help_text='The subject: {"kind": "person"}, or {"kind": "company", "siren", "siret", "name"}.'
    )
    decided_by = serializers.SerializerMethodField(
        help_text=(
            "Who decided, by role, never by identity: subject, legal_representative (the companies register "
            "listed them when they acted), delegate or legal_mandate; null while pending."
        )
    )

    def get_approval_url(self, consent: Consent) -> str:
        return approval_url(consent)

    def get_attestation_types(self, consent: Consent) -> list[str]:
        return [item.attestation_type.slug for item in consent.items.all()]

    @extend_schema_field(serializers.DictField(child=serializers.ListField(child=serializers.CharField())))
    def fields_by_type(self, consent: Consent) -> dict[str, list[str]]:
        return {item.attestation_type.slug: list(item.fields) for item in consent.items.all()}

    @extend_schema_field(PurposeSerializer)
    def get_purpose(self, consent: Consent) -> dict[str, str]:
        return {"code": consent.purpose_code, "text": consent.purpose_text}

    @extend_schema_field(serializers.DictField(child=serializers.CharField()))
    def get_subject(self, consent: Consent) -> dict[str, str]:
        company = consent.company
        if company is None:
            return {"kind": "person"}
        return {"kind": "company", "siren": company.siren, "siret": company.siret, "name": company.name}

    @extend_schema_field(serializers.DictField(allow_null=True))
    def get_decided_by(self, consent: Consent) -> dict[str, Any] | None:
        if not consent.ground:
            return None
        decided: dict[str, Any] = {"role": consent.ground}
        if consent.register_check is not None:
            decided["register_checked_at"] = consent.register_check.checked_at
        if consent.mandate is not None:
            decided["mandate"] = {
                "kind": consent.mandate.kind,
                "valid_until": consent.mandate.valid_until,
                **({"legal_source": consent.mandate.legal_source} if consent.mandate.legal_source else {}),
            }
        return decided

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_one_time_code(self, consent: Consent) -> str | None:
        code = self.context.get("one_time_code")
        # A replay under the same Idempotency-Key returns the first request, whose code is gone.
        if not code or consent.code_ref != one_time_code_ref(code):
            return None
        return one_time_code_shown(code)

    @extend_schema_field(serializers.CharField(allow_null=True))
    def get_artefact(self, consent: Consent) -> str | None:
        return consent.artefact if consent.status == Consent.Status.ACTIVE and consent.artefact else None


class ConsentRequestCreateApi(ConsumerApi):
    scopes = {"POST": ["consents:write"]}

    class InputSerializer(serializers.Serializer[Any]):
        attestation_types = serializers.ListField(child=StrictCharField(max_length=100), min_length=1, max_length=20)
        # The contract's key; DRF pops declared fields, so Serializer.fields is not shadowed.
        fields = serializers.DictField(  # type: ignore[assignment]
            child=serializers.ListField(child=StrictCharField(max_length=64), max_length=100),
            required=False,
            allow_null=True,
            default=None,
        )
        purpose = PurposeSerializer()
        duration_days = DurationDaysField()
        max_uses = MaxUsesField(required=False, allow_null=True, default=None)
        return_url = StrictCharField(
            max_length=2000,
            required=False,
            allow_blank=True,
            default="",
            help_text="Where the citizen is sent after deciding; only on an origin your organisation registered.",
        )
        reference = StrictCharField(max_length=100, required=False, allow_blank=True, default="")
        pivot_identity_hash = StrictCharField(
            max_length=200,
            required=False,
            allow_blank=True,
            default="",
            help_text=(
                "Addresses the request to one person: SHA-256 (64 lower-case hex digits) of their pivot "
                "identity, one line each: birth name, given names, date of birth (YYYY-MM-DD), sex (F/M), "
                "INSEE code of the place of birth; names in upper case. Only that person may then decide it."
            ),
        )
        one_time_code = StrictBooleanField(
            required=False,
            default=False,
            help_text=(
                "Addresses the request by a one-time code instead: the response carries the code, which you "
                "give the person by your own channel. Its link opens nothing until the code is entered; then "
                "only the person who entered it may decide it. Not with pivot_identity_hash."
            ),
        )

        subject = CompanySubjectSerializer(
            required=False,
            allow_null=True,
            default=None,
            help_text="A company subject (types whose subject_kind is company): the SIRET of an open company.",
        )

        class Meta:
            # The OpenAPI component name; "Input" alone collides with other APIs' inputs.
            ref_name = "ConsentRequestCreate"

    @extend_schema(
        operation_id="consent_request_create",
        request=InputSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                str,
                OpenApiParameter.HEADER,
                description="Same key and body: the same consent again. Same key, other body: 409.",
            )
        ],
        responses={201: ConsentOutputSerializer, 400: PROBLEM, 403: PROBLEM, 409: PROBLEM},
        examples=[
            OpenApiExample(
                "Family quotient for a school canteen rate",
                request_only=True,
                value={
                    "attestation_types": ["cnaf.quotient-familial"],
                    "fields": {"cnaf.quotient-familial": ["quotient_familial"]},
                    "purpose": {"code": "tarification-sociale", "text": "Tarif de la cantine scolaire"},
                    "duration_days": 90,
                    "max_uses": 3,
                    "reference": "dossier-42",
                },
            )
        ],
        tags=["consents"],
    )
    def post(self, request: Request) -> Response:
        data = validated(self.InputSerializer(data=request.data))
        code = one_time_code_new() if data["one_time_code"] else ""
        consent = consent_request_create(
            consumer=self.consumer(request),
            client=request.auth.application,  # type: ignore[union-attr]
            attestation_types=data["attestation_types"],
            fields=data["fields"],
            purpose_code=data["purpose"]["code"],
            purpose_text=data["purpose"]["text"],
            duration_days=data["duration_days"],
            max_uses=data["max_uses"],
            return_url=data["return_url"],
            reference=data["reference"],
            idempotency_key=request.headers.get("Idempotency-Key", "").strip(),
            pivot_identity_hash=data["pivot_identity_hash"],
            one_time_code=code,
            company_siret=data["subject"]["siret"] if data["subject"] else "",
        )
        consent = consent_get_for_consumer(consumer=consent.consumer, consent_id=consent.pk)
        location = request.build_absolute_uri(reverse("consent:api-consent-detail", args=[consent.pk]))
        output = ConsentOutputSerializer(consent, context={"one_time_code": code})
        return Response(output.data, status=201, headers={"Location": location})


class ConsentCursorPagination(CursorPagination):
    ordering = "-created_at"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def decode_cursor(self, request: Request) -> Any:
        try:
            return super().decode_cursor(request)
        except drf_exceptions.NotFound:
            # A cursor this API did not hand out is a bad parameter, not a missing resource.
            raise ValidationError(
                errors={"cursor": [{"code": "invalid", "message": "Not a cursor of this list."}]}
            ) from None


class ConsentListApi(ConsumerApi):
    scopes = {"GET": ["consents:read"]}

    class FilterSerializer(QuerySerializer):
        status = serializers.ChoiceField(choices=Consent.Status.choices, required=False)
        cursor = serializers.CharField(required=False, max_length=200)
        page_size = serializers.IntegerField(
            required=False, min_value=1, max_value=ConsentCursorPagination.max_page_size
        )

        class Meta:
            ref_name = "ConsentFilter"

    @extend_schema(
        operation_id="consents_list",
        parameters=[FilterSerializer],
        responses={
            200: inline_serializer(
                "ConsentPage",
                fields={
                    "next": serializers.URLField(allow_null=True),
                    "previous": serializers.URLField(allow_null=True),
                    "results": ConsentOutputSerializer(many=True),
                },
            ),
            400: PROBLEM,
        },
        tags=["consents"],
    )
    def get(self, request: Request) -> Response:
        filters = validated(self.FilterSerializer(data=request.query_params))
        consents = consents_for_consumer(consumer=self.consumer(request), status=filters.get("status"))
        paginator = ConsentCursorPagination()
        page = paginator.paginate_queryset(consents, request, view=self)
        return paginator.get_paginated_response(ConsentOutputSerializer(page or [], many=True).data)  # type: ignore[arg-type]


class ConsentDetailApi(ConsumerApi):
    scopes = {"GET": ["consents:read"], "DELETE": ["consents:write"]}

    @extend_schema(
        operation_id="consent_retrieve", responses={200: ConsentOutputSerializer, 404: PROBLEM}, tags=["consents"]
    )
    def get(self, request: Request, consent_id: str) -> Response:
        consent = consent_get_for_consumer(consumer=self.consumer(request), consent_id=consent_id)
        return Response(ConsentOutputSerializer(consent).data)

    @extend_schema(
        operation_id="consent_end",
        description="The consumer ends the consent, or withdraws its pending request (revoked, reason consumer).",
        responses={204: None, 404: PROBLEM, 409: PROBLEM},
        tags=["consents"],
    )
    def delete(self, request: Request, consent_id: str) -> Response:
        consent = consent_get_for_consumer(consumer=self.consumer(request), consent_id=consent_id)
        actor = Actor(ActorKind.CONSUMER, caller_of(request).client_id)
        consent_revoke(consent=consent, actor=actor, reason="consumer")
        return Response(status=204)


class ConsentRenewalApi(ConsumerApi):
    scopes = {"POST": ["consents:write"]}

    @extend_schema(
        operation_id="consent_renewal_request",
        description=(
            "Asks the subject to renew a consent that ends within CONSENT_RENEWAL_WINDOW_DAYS (30 by default): a "
            "new pending request with the same terms, on the person's dashboard, that only they may decide (for a "
            "company, on the company's page, for whoever may act for it then). 201 with it; 200 with the one "
            "already pending; 409 outside the window or once the consent has ended."
        ),
        request=None,
        responses={200: ConsentOutputSerializer, 201: ConsentOutputSerializer, 404: PROBLEM, 409: PROBLEM},
        tags=["consents"],
    )
    def post(self, request: Request, consent_id: str) -> Response:
        consent = consent_get_for_consumer(consumer=self.consumer(request), consent_id=consent_id)
        already = consent.renewals.filter(status=Consent.Status.PENDING).exists()
        renewal = consent_renewal_request(consent=consent, client=request.auth.application)  # type: ignore[union-attr]
        renewal = consent_get_for_consumer(consumer=renewal.consumer, consent_id=renewal.pk)
        location = request.build_absolute_uri(reverse("consent:api-consent-detail", args=[renewal.pk]))
        return Response(
            ConsentOutputSerializer(renewal).data, status=200 if already else 201, headers={"Location": location}
        )


class WebhookKeysApi(APIView):
    """The public keys that verify the `v1a` signatures of the gateway's webhooks, as `whpk_…`
    (Standard Webhooks), current first; during a key rotation each one signs every webhook."""

    authentication_classes: list[type] = []
    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="webhook_keys",
        responses=inline_serializer(
            "WebhookKeys", fields={"keys": serializers.ListField(child=serializers.CharField())}
        ),
        tags=["webhooks"],
    )
    def get(self, request: Request) -> Response:
        response = Response({"keys": webhook_public_keys()})
        response["Cache-Control"] = "public, max-age=300"
        return response
