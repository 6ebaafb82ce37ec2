"""The HTTP adapter: calls a provider that implements docs/provider-api.yaml.

Whatever the provider answers, the gateway passes on only the fields it asked for, each checked
against the catalogue's schema for that field, and every failure becomes one of three stable
errors. The provider's own words (error messages, stack traces, unexpected bodies) never reach an
error detail: they may hold internals or personal data.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Sequence
from typing import Any

from core.correlation import get_correlation_id
from core.errors import ProviderError, ProviderTimeout, SubjectNotFound, ValidationError
from core.outbound import OutboundError, OutboundRefused, OutboundTimeout, OutboundTooLarge, post_json
from providers.adapters.base import Adapter, AnySubject, FetchContext, ProviderResult
from providers.schemas import value_is_valid

MAX_REFERENCE_LENGTH = 200


class HttpAdapter(Adapter):
    kind = "http"
    checks_field_schemas = True

    def url(self) -> str:
        return f"{self.target.base_url.rstrip('/')}/attestations/{self.target.slug}"

    def headers(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        token_env = self.target.token_env
        token = os.environ.get(token_env, "") if token_env else ""
        if token:
            headers["Authorization"] = f"Bearer {token}"
        correlation_id = get_correlation_id()
        if correlation_id:
            headers["X-Correlation-Id"] = correlation_id
        return headers

    def fetch(self, subject: AnySubject, fields: Sequence[str], context: FetchContext) -> ProviderResult:
        # Read with the target (the exchange's grant, or the loaded type): no query of its own.
        schemas = self.target.field_schemas
        requested = list(dict.fromkeys(fields))
        unknown = [name for name in requested if name not in schemas]
        if unknown or not requested:
            raise ValidationError("Unknown or missing field(s) for this attestation type.", errors={"fields": unknown})
        if not self.target.base_url:
            raise ProviderError("The provider's address is not configured.")
        body = {
            "subject": subject.as_json(),
            "fields": requested,
            "purpose": context.purpose,
            "consumer_siret": context.consumer_siret,
            "exchange_id": str(context.exchange_id),
            # Lets the provider tell a citizen's own preview from a delivery to the consumer.
            "preview": context.preview,
        }
        try:
            response = post_json(
                self.url(),
                json=body,
                headers=self.headers(),
                timeout=self.target.timeout_ms / 1000,
            )
        except OutboundTimeout:
            raise ProviderTimeout() from None
        except OutboundRefused:
            raise ProviderError("The provider's address is not allowed by the gateway's outbound policy.") from None
        except OutboundTooLarge:
            raise ProviderError("The provider's answer is too large.") from None
        except OutboundError:
            raise ProviderError("The provider could not be reached.") from None

        if response.status == 404 and _problem_code(response.json_or_none()) == "subject_not_found":
            raise SubjectNotFound()
        if response.status != 200:
            raise ProviderError(f"The provider answered with HTTP status {response.status}.")
        document = response.json_or_none()
        if not isinstance(document, dict) or not isinstance(document.get("fields"), dict):
            raise ProviderError("The provider's answer is not a valid attestation document.")
        delivered: dict[str, Any] = document["fields"]
        selected: dict[str, Any] = {}
        for name in requested:
            if name not in delivered:
                raise ProviderError(f"The provider's answer lacks the field '{name}'.")
            if not value_is_valid(schemas[name], delivered[name]):
                raise ProviderError(f"The provider's value for the field '{name}' does not match its schema.")
            selected[name] = delivered[name]
        # Fields the provider sent but nobody asked for are dropped here, unread: data minimisation.
        return ProviderResult(
            fields=selected,
            issued_at=_issued_at(document.get("issued_at")),
            provider_reference=_reference(document.get("provider_reference")),
            duration_ms=response.duration_ms,
        )


def _problem_code(document: Any) -> str | None:
    return document.get("code") if isinstance(document, dict) else None


def _issued_at(value: Any) -> dt.datetime:
    if isinstance(value, str):
        try:
            issued_at = dt.datetime.fromisoformat(value)
        except ValueError:
            issued_at = None
        if issued_at is not None and issued_at.tzinfo is not None:
            return issued_at.astimezone(dt.UTC)
    raise ProviderError("The provider's answer has no valid issued_at timestamp.")


def _reference(value: Any) -> str:
    if isinstance(value, str) and 0 < len(value) <= MAX_REFERENCE_LENGTH and value.isprintable():
        return value
    raise ProviderError("The provider's answer has no valid provider_reference.")
