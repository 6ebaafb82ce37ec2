"""The trail's HTTP API: public checkpoint, key, proofs, verifier and statistics; auditors' event search.

Proof hashes (leaf_hash, root, inclusion_proof, consistency_proof, ...) are lower-case hex of the
32-byte SHA-256 values; the checkpoint's own root line is base64, as C2SP specifies.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from django.http import HttpResponse, StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from oauth2_provider.contrib.rest_framework import TokenHasScope
from rest_framework import serializers
from rest_framework.exceptions import NotAuthenticated
from rest_framework.permissions import AllowAny, BasePermission
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.exports import csv_lines, export_lines
from audit.models import ActorKind, EventType
from audit.sealer import event_projection, log_verifier_key
from audit.selectors import (
    EventFilters,
    checkpoint_latest,
    consistency_proof_get,
    events_matching,
    events_search,
    exchange_stats_daily,
    inclusion_proof_get,
    validate_trail_date,
)
from audit.services import Actor, auditor_search_record
from audit.verifier import verifier_get
from core.apis import QuerySerializer, SideEffectingGetApi
from core.authentication import caller_of
from core.errors import NotFound, PermissionDeniedError, ScopeMissing, ValidationError
from core.replicas import primary_reads, replica_view

AUDIT_SCOPE = "audit:read"


def _Q(name: str, type_: Any, *, required: bool = True) -> OpenApiParameter:  # noqa: N802
    return OpenApiParameter(name, type_, OpenApiParameter.QUERY, required=required)


class _PassThroughRenderer(BaseRenderer):
    """Lets `?format=` select a representation the view itself builds."""

    charset = "utf-8"

    def render(self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None) -> bytes:
        # Errors raised before the view builds its own response arrive here as problem dicts.
        if isinstance(data, bytes):
            return data
        return data.encode() if isinstance(data, str) else json.dumps(data).encode()


class PlainTextRenderer(_PassThroughRenderer):
    media_type = "text/plain"
    format = "txt"


class CsvRenderer(_PassThroughRenderer):
    media_type = "text/csv"
    format = "csv"


class JsonLinesRenderer(_PassThroughRenderer):
    media_type = "application/jsonl"
    format = "jsonl"


class ZipRenderer(_PassThroughRenderer):
    media_type = "application/zip"
    format = "zip"


class OctetStreamRenderer(_PassThroughRenderer):
    media_type = "application/octet-stream"
    format = "bin"


def _validated(serializer_class: type[serializers.Serializer[Any]], request: Request) -> dict[str, Any]:
    serializer = serializer_class(data=request.query_params)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class PublicApi(APIView):
    authentication_classes: list[type] = []
    permission_classes = [AllowAny]


class CheckpointApi(PublicApi):
    """The latest signed checkpoint, as a C2SP signed note (text/plain)."""

    renderer_classes = [JSONRenderer, PlainTextRenderer]

    @extend_schema(
        operation_id="audit_checkpoint", responses={(200, "text/plain"): OpenApiTypes.STR, 404: None}, tags=["audit"]
    )
    @replica_view
    def get(self, request: Request) -> HttpResponse:
        checkpoint = checkpoint_latest()
        if checkpoint is None:
            raise NotFound("The log has no checkpoint yet.")
        response = HttpResponse(checkpoint.note, content_type="text/plain; charset=utf-8")
        response["Cache-Control"] = "no-cache"
        return response


class PublicKeyApi(PublicApi):
    """The log's Ed25519 public key as a C2SP verifier key (`<name>+<hash>+<base64 key>`)."""

    renderer_classes = [JSONRenderer, PlainTextRenderer]

    @extend_schema(operation_id="audit_public_key", responses={(200, "text/plain"): OpenApiTypes.STR}, tags=["audit"])
    def get(self, request: Request) -> HttpResponse:
        response = HttpResponse(log_verifier_key() + "\n", content_type="text/plain; charset=utf-8")
        response["Cache-Control"] = "public, max-age=300"
        return response


class VerifierApi(PublicApi):
    """The offline verifier as one file: `python verifier.pyz EXPORT.jsonl --key KEY` (see docs/trail.md).

    Its SHA-256 is in `Repr-Digest` (RFC 9530) and, in hex, in the ETag; `make verifier` builds
    the same bytes from the same source.
    """

    renderer_classes = [JSONRenderer, ZipRenderer, OctetStreamRenderer]

    @extend_schema(
        operation_id="audit_verifier_download",
        responses={(200, "application/zip"): OpenApiTypes.BINARY},
        tags=["audit"],
    )
    def get(self, request: Request) -> HttpResponse:
        verifier = verifier_get()
        response = HttpResponse(verifier.content, content_type="application/zip")
        response["Content-Disposition"] = 'attachment; filename="verifier.pyz"'
        response["Repr-Digest"] = f"sha-256=:{base64.b64encode(verifier.sha256).decode()}:"
        response["ETag"] = f'"{verifier.sha256.hex()}"'
        response["Cache-Control"] = "public, max-age=300"
        return response


class InclusionProofApi(PublicApi):
    class InputSerializer(QuerySerializer):
        index = serializers.IntegerField(min_value=0, max_value=2**62)
        tree_size = serializers.IntegerField(min_value=1, max_value=2**62, required=False)

        class Meta:
            ref_name = "InclusionProofQuery"

    @extend_schema(
        operation_id="audit_inclusion_proof",
        parameters=[InputSerializer],
        responses=OpenApiTypes.OBJECT,
        tags=["audit"],
    )
    @replica_view
    def get(self, request: Request) -> Response:
        data = _validated(self.InputSerializer, request)
        try:
            proof = inclusion_proof_get(index=data["index"], tree_size=data.get("tree_size"))
        except ValidationError:
            # A tree the replica has not replayed yet is on the primary (published a moment ago).
            with primary_reads():
                proof = inclusion_proof_get(index=data["index"], tree_size=data.get("tree_size"))
        return Response(
            {
                "encoding": "hex",
                "index": proof.index,
                "tree_size": proof.tree_size,
                "leaf_hash": proof.leaf_hash.hex(),
                "inclusion_proof": [digest.hex() for digest in proof.proof],
                "root": proof.root.hex(),
                "checkpoint": proof.checkpoint,
            }
        )


class ConsistencyProofApi(PublicApi):
    class InputSerializer(QuerySerializer):
        first = serializers.IntegerField(min_value=1, max_value=2**62)
        second = serializers.IntegerField(min_value=1, max_value=2**62)

        class Meta:
            ref_name = "ConsistencyProofQuery"

    @extend_schema(
        operation_id="audit_consistency_proof",
        parameters=[InputSerializer],
        responses=OpenApiTypes.OBJECT,
        tags=["audit"],
    )
    @replica_view
    def get(self, request: Request) -> Response:
        data = _validated(self.InputSerializer, request)
        try:
            proof = consistency_proof_get(first=data["first"], second=data["second"])
        except ValidationError:
            with primary_reads():
                proof = consistency_proof_get(first=data["first"], second=data["second"])
        return Response(
            {
                "encoding": "hex",
                "first": proof.first,
                "second": proof.second,
                "first_root": proof.first_root.hex(),
                "second_root": proof.second_root.hex(),
                "consistency_proof": [digest.hex() for digest in proof.proof],
                "first_checkpoint": proof.first_checkpoint,
                "second_checkpoint": proof.second_checkpoint,
            }
        )


class HasAuditScope(TokenHasScope):
    def has_permission(self, request: Request, view: Any) -> bool:
        if request.auth is None:
            raise NotAuthenticated
        if not super().has_permission(request, view):
            raise ScopeMissing(f"This operation needs the scope {AUDIT_SCOPE}.")
        return True


class AuditClientAllowed(BasePermission):
    """The OAuth client itself must be registered as an auditor's: a token is only as good as its
    client, even if one was minted with a scope its client was never granted. (A switched-off
    organisation has no caller at all: it loses audit access on its next request.)"""

    def has_permission(self, request: Request, view: Any) -> bool:
        if AUDIT_SCOPE not in caller_of(request).client_scopes:
            raise PermissionDeniedError("This client is not registered for audit access.")
        return True


class EventFilterSerializer(QuerySerializer):
    # `from`/`to` are Python keywords: declared below under their query-parameter names.
    # An empty value is refused like any other value outside the schema: leave the parameter out.
    consumer = serializers.RegexField(r"^\d{14}$", required=False)
    provider = serializers.RegexField(r"^\d{14}$", required=False)
    attestation_type = serializers.CharField(required=False, max_length=100)
    type = serializers.ChoiceField(choices=EventType.choices, required=False)
    consent_id = serializers.UUIDField(required=False)
    citizen_ref = serializers.RegexField(r"^[0-9a-f]{64}$", required=False)
    justification = serializers.CharField(required=False, max_length=2000)

    def get_fields(self) -> dict[str, serializers.Field[Any, Any, Any, Any]]:
        fields = super().get_fields()
        fields["from"] = serializers.DateTimeField(required=False, validators=[validate_trail_date])
        fields["to"] = serializers.DateTimeField(required=False, validators=[validate_trail_date])
        return fields

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("citizen_ref") and len((attrs.get("justification") or "").strip()) < 10:
            raise serializers.ValidationError(
                {"justification": ["A search by citizen reference needs a written justification (10+ characters)."]}
            )
        return attrs


def filters_from(data: dict[str, Any]) -> EventFilters:
    def aware(value: dt.datetime | None) -> dt.datetime | None:
        if value is not None and timezone.is_naive(value):
            return timezone.make_aware(value, dt.UTC)
        return value

    return EventFilters(
        occurred_from=aware(data.get("from")),
        occurred_to=aware(data.get("to")),
        consumer=data.get("consumer") or "",
        provider=data.get("provider") or "",
        attestation_type=data.get("attestation_type") or "",
        type=data.get("type") or "",
        consent_id=data.get("consent_id"),
        citizen_ref=data.get("citizen_ref") or "",
    )


class EventsApi(SideEffectingGetApi):
    """Auditors' search of the trail (scope audit:read), paginated, or exported as CSV or JSONL.

    `format=jsonl` is the whole log in the verifier's export format (it only verifies as a whole,
    from leaf 0, so it takes no filters); `format=csv` exports the filtered events. Every search
    and export is recorded as an auditor event before any result is returned.
    """

    permission_classes = [HasAuditScope, AuditClientAllowed]
    required_scopes = [AUDIT_SCOPE]
    renderer_classes = [JSONRenderer, CsvRenderer, JsonLinesRenderer]

    class InputSerializer(EventFilterSerializer):
        cursor = serializers.CharField(required=False, max_length=100)
        limit = serializers.IntegerField(required=False, min_value=1, max_value=500, default=50)
        format = serializers.ChoiceField(choices=["json", "csv", "jsonl"], required=False, default="json")
        checkpoints = serializers.ChoiceField(choices=["all", "latest"], required=False, default="latest")

        class Meta:
            ref_name = "AuditEventSearch"

    class OutputSerializer(serializers.Serializer[Any]):
        leaf_index = serializers.IntegerField(allow_null=True, help_text="Null until the event is sealed")
        event = serializers.DictField()

        class Meta:
            ref_name = "AuditEventRow"

    @extend_schema(
        operation_id="audit_events_search",
        parameters=[InputSerializer],
        responses={
            (200, "application/json"): inline_serializer(
                "AuditEventPage",
                fields={
                    "results": OutputSerializer(many=True),
                    "next_cursor": serializers.CharField(allow_null=True),
                },
            ),
            (200, "text/csv"): OpenApiTypes.STR,
            (200, "application/jsonl"): OpenApiTypes.STR,
        },
        tags=["audit"],
    )
    @replica_view
    def get(self, request: Request) -> Response | StreamingHttpResponse:
        data = _validated(self.InputSerializer, request)
        filters = filters_from(data)
        export = data["format"]
        if export == "jsonl" and any(value for value in filters.as_detail().values()):
            raise ValidationError(
                "The JSONL export is the whole verifiable log and takes no filters.",
                errors={"format": ["jsonl takes no filters; use csv for a filtered export"]},
            )
        actor = Actor(ActorKind.AUDITOR, caller_of(request).client_id)
        auditor_search_record(
            actor=actor,
            filters=filters.as_detail(),
            justification=data.get("justification", ""),
            export_format="" if export == "json" else export,
        )
        if export == "csv":
            response = StreamingHttpResponse(
                csv_lines(events_matching(filters).iterator(chunk_size=2000)), content_type="text/csv; charset=utf-8"
            )
            response["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
            return response
        if export == "jsonl":
            response = StreamingHttpResponse(
                export_lines(checkpoints=data["checkpoints"]), content_type="application/jsonl; charset=utf-8"
            )
            response["Content-Disposition"] = 'attachment; filename="audit-export.jsonl"'
            return response
        page = events_search(filters=filters, cursor=data.get("cursor"), limit=data["limit"])
        rows = [{"leaf_index": getattr(e, "leaf_index", None), "event": event_projection(e)} for e in page.events]
        return Response({"results": self.OutputSerializer(rows, many=True).data, "next_cursor": page.next_cursor})


class ExchangeStatsApi(PublicApi):
    """Daily succeeded exchanges per attestation type, consumer and provider; counts < 10 withheld."""

    renderer_classes = [JSONRenderer, CsvRenderer]

    class InputSerializer(QuerySerializer):
        since = serializers.DateField(required=False, validators=[validate_trail_date])
        until = serializers.DateField(required=False, validators=[validate_trail_date])
        format = serializers.ChoiceField(choices=["json", "csv"], required=False, default="json")

        class Meta:
            ref_name = "ExchangeStatsQuery"

        def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
            until = attrs.get("until") or timezone.now().astimezone(dt.UTC).date()
            since = attrs.get("since") or until - dt.timedelta(days=30)
            if since > until or (until - since).days > 366:
                raise serializers.ValidationError({"since": ["the period must be 0 to 366 days long"]})
            return {**attrs, "since": since, "until": until}

    @extend_schema(
        operation_id="exchange_stats",
        description="The period runs from `since` to `until` (both included), at most 366 days; by default "
        "the last 30 days.",
        parameters=[InputSerializer],
        responses={(200, "application/json"): OpenApiTypes.OBJECT, (200, "text/csv"): OpenApiTypes.STR},
        tags=["statistics"],
    )
    @replica_view
    def get(self, request: Request) -> Response | HttpResponse:
        data = _validated(self.InputSerializer, request)
        rows = exchange_stats_daily(since=data["since"], until=data["until"])
        if data["format"] == "csv":
            lines = ["date,attestation_type,consumer,provider,count"]
            lines += [
                f"{r['date']},{r['attestation_type']},{r['consumer']},{r['provider']},"
                f"{'<10' if r['suppressed'] else r['count']}"
                for r in rows
            ]
            return HttpResponse("\n".join(lines) + "\n", content_type="text/csv; charset=utf-8")
        return Response(
            {
                "since": data["since"].isoformat(),
                "until": data["until"].isoformat(),
                "suppression_threshold": 10,
                "results": rows,
            }
        )
