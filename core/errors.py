"""The one error hierarchy of the gateway and its problem+json (RFC 9457) rendering.

Every error a client can see is a `GatewayError` subclass with a stable `code` (part of the v1
contract: clients branch on it) and an HTTP `status`. Anything else that escapes a view is an
internal error: the client gets a generic 500 problem with the correlation id, never a trace.

Every app may raise these errors.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Mapping
from typing import Any, ClassVar

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

logger = logging.getLogger(__name__)

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://github.com/dites-le-nous-une-fois/gateway/blob/main/docs/errors.md#"


class GatewayError(Exception):
    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"

    def __init__(self, detail: str | None = None, *, extra: Mapping[str, Any] | None = None) -> None:
        self.detail = detail or self.title
        self.extra = dict(extra or {})
        super().__init__(self.detail)

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        body.update(self.extra)
        return body


class ValidationError(GatewayError):
    code = "validation_error"
    status = 400
    title = "The request is not valid"

    def __init__(self, detail: str | None = None, *, errors: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail, extra={"errors": dict(errors)} if errors else None)


class AuthenticationRequired(GatewayError):
    code = "authentication_required"
    status = 401
    title = "A valid bearer token is required"


class DpopChallenge(GatewayError):
    """A refused DPoP use on the API (RFC 9449 §7.1): 401 with a DPoP challenge, and the nonce
    to use next when the proof lacked a fresh one."""

    status = 401
    algorithms: ClassVar[str] = "EdDSA ES256 PS256"

    def __init__(self, detail: str | None = None, *, nonce: str | None = None) -> None:
        super().__init__(detail)
        self.nonce = nonce

    def response_headers(self) -> dict[str, str]:
        headers = {"WWW-Authenticate": f'DPoP error="{self.code}", algs="{self.algorithms}"'}
        if self.nonce:
            headers["DPoP-Nonce"] = self.nonce
        return headers


class InvalidDpopProof(DpopChallenge):
    code = "invalid_dpop_proof"
    title = "The DPoP proof is missing or invalid, or the token is bound to another key"


class UseDpopNonce(DpopChallenge):
    code = "use_dpop_nonce"
    title = "Send the request again with a DPoP proof carrying the nonce of the DPoP-Nonce header"


class EncryptionKeyUnavailable(GatewayError):
    code = "encryption_key_unavailable"
    status = 409
    title = "None of your encryption keys can be used, and the attestation is never sent in clear to you"


class ScopeMissing(GatewayError):
    code = "scope_missing"
    status = 403
    title = "The token lacks the scope this operation needs"


class PermissionDeniedError(GatewayError):
    code = "permission_denied"
    status = 403
    title = "You may not perform this operation"


class NotFound(GatewayError):
    code = "not_found"
    status = 404
    title = "Not found"


class MethodNotAllowed(GatewayError):
    code = "method_not_allowed"
    status = 405
    title = "Method not allowed"


class Conflict(GatewayError):
    code = "conflict"
    status = 409
    title = "The request conflicts with the current state"


class InvalidTransition(Conflict):
    code = "invalid_transition"
    title = "This change is not possible in the current state"


class IdempotencyConflict(Conflict):
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was used with a different request"


class UnsupportedMediaType(GatewayError):
    code = "unsupported_media_type"
    status = 415
    title = "Send application/json"


class RateLimited(GatewayError):
    code = "rate_limited"
    status = 429
    title = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ConsentRequired(GatewayError):
    code = "consent_required"
    status = 403
    title = "No consent covers this request"


class ConsentRevoked(GatewayError):
    code = "consent_revoked"
    status = 403
    title = "The consent was revoked"


class ConsentExpired(GatewayError):
    code = "consent_expired"
    status = 403
    title = "The consent has expired"


class ConsentPaused(GatewayError):
    code = "consent_paused"
    status = 403
    title = "The citizen paused this consent"


class UsageLimitReached(GatewayError):
    code = "usage_limit_reached"
    status = 403
    title = "The consent's use limit is reached"


class LoaInsufficient(GatewayError):
    code = "loa_insufficient"
    status = 403
    title = "The citizen's login level is below what this attestation requires"


class HabilitationMissing(GatewayError):
    code = "habilitation_missing"
    status = 403
    title = "No approved habilitation covers this request"


class SubjectNotFound(GatewayError):
    code = "subject_not_found"
    status = 404
    title = "The provider does not know this person"


class ProviderTimeout(GatewayError):
    code = "provider_timeout"
    status = 504
    title = "The provider did not answer in time"


class ProviderError(GatewayError):
    code = "provider_error"
    status = 502
    title = "The provider could not deliver the attestation"


class ServiceUnavailable(GatewayError):
    code = "service_unavailable"
    status = 503
    title = "The service is temporarily unavailable"


def problem_response(error: GatewayError, request: HttpRequest | None = None) -> JsonResponse:
    """The same rendering for Django views (pages' JSON endpoints, 404/500 handlers) and DRF."""
    body = error.problem()
    if request is not None:
        body.setdefault("instance", request.path)
    response = JsonResponse(body, status=error.status, content_type=PROBLEM_CONTENT_TYPE)
    if isinstance(error, RateLimited):
        response["Retry-After"] = str(error.retry_after)
    if isinstance(error, DpopChallenge):
        for name, value in error.response_headers().items():
            response[name] = value
    return response


def _from_drf(exc: Exception) -> GatewayError | None:
    if isinstance(exc, GatewayError):
        return exc
    if isinstance(exc, drf_exceptions.ValidationError):
        return ValidationError("Some fields are missing or invalid.", errors=_as_dict(exc.detail))
    if isinstance(exc, drf_exceptions.ParseError):
        return ValidationError("The body is not valid JSON.")
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return UnsupportedMediaType()
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        return AuthenticationRequired()
    if isinstance(exc, drf_exceptions.Throttled):
        return RateLimited(retry_after=int(getattr(exc, "wait", None) or 1))
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return MethodNotAllowed()
    if isinstance(exc, drf_exceptions.NotFound | Http404):
        return NotFound()
    if isinstance(exc, drf_exceptions.PermissionDenied | PermissionDenied):
        return PermissionDeniedError()
    if isinstance(exc, drf_exceptions.APIException):
        error = GatewayError(str(exc.detail))
        error.status = exc.status_code  # type: ignore[misc]
        return error
    return None


def _origin(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"


def _as_dict(detail: Any) -> dict[str, Any]:
    if isinstance(detail, dict):
        return {str(k): v for k, v in detail.items()}
    return {"non_field_errors": detail}


def problem_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every API error leaves as problem+json."""
    error = _from_drf(exc)
    request = context.get("request")
    if error is None:
        # Unexpected: log the type and where it was raised, never the message or the locals,
        # which may carry personal data. The correlation id ties the log line to the response.
        logger.error("Unhandled %s at %s in %s", type(exc).__name__, _origin(exc), type(context.get("view")).__name__)
        error = GatewayError("An internal error occurred. Quote the correlation id to the operator.")
    body = error.problem()
    if request is not None:
        body.setdefault("instance", request.path)
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else None
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        headers = {"WWW-Authenticate": 'Bearer realm="api"'}
    if isinstance(error, DpopChallenge):
        headers = error.response_headers()
    return Response(body, status=error.status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)
