"""The one error hierarchy of the gateway and its problem+json (RFC 9457) rendering.

Every error a client can see is a `GatewayError` subclass with a stable `code` (part of the v1
contract: clients branch on it) and an HTTP `status`. Anything else that escapes a view is an
internal error: the client gets a generic 500 problem with the correlation id, never a trace.

Every app may raise these errors.
"""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.http import Http404, HttpRequest, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import get_resolver
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response

from core.correlation import get_correlation_id

logger = logging.getLogger(__name__)

StrOrPromise = str | Promise

PROBLEM_CONTENT_TYPE = "application/problem+json"
# The gateway serves its error catalogue itself: each problem type is the address of its entry.
ERRORS_PATH = "/api/v1/errors/"


def problem_type(code: str) -> str:
    return f"{settings.GATEWAY_BASE_URL}{ERRORS_PATH}{code}"


class GatewayError(Exception):
    code: ClassVar[str] = "internal_error"
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    description: ClassVar[StrOrPromise] = _(
        "Something unexpected failed in the gateway. Nothing is shown of it; quote the correlation id to the operator."
    )

    def __init__(self, detail: str | None = None, *, extra: Mapping[str, Any] | None = None) -> None:
        self.detail = detail or self.title
        self.extra = dict(extra or {})
        super().__init__(self.detail)

    def problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": problem_type(self.code),
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
        }
        # The members RFC 9457 defines keep their meaning: an extra never replaces one.
        body.update({key: value for key, value in self.extra.items() if key not in body})
        return body


class ValidationError(GatewayError):
    code = "validation_error"
    status = 400
    title = "The request is not valid"
    description = _(
        "The body or the parameters are not valid; errors names each field and what is wrong with it. "
        "Nothing was changed."
    )

    def __init__(self, detail: str | None = None, *, errors: Mapping[str, Any] | None = None) -> None:
        super().__init__(detail, extra={"errors": dict(errors)} if errors else None)


class AuthenticationRequired(GatewayError):
    code = "authentication_required"
    status = 401
    title = "A valid bearer token is required"
    description = _(
        "No valid bearer token came with the request: get one from /oauth/token/ and send it in the "
        "Authorization header."
    )


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
    description = _(
        "The token is bound to a key (DPoP): every request needs a fresh proof signed by that key, for this method "
        "and address, with the token's hash. The proof was missing, wrong, replayed or signed by another key."
    )


class UseDpopNonce(DpopChallenge):
    code = "use_dpop_nonce"
    title = "Send the request again with a DPoP proof carrying the nonce of the DPoP-Nonce header"
    description = _("Send the request again with a DPoP proof that carries the nonce given in the DPoP-Nonce header.")


class EncryptionKeyUnavailable(GatewayError):
    code = "encryption_key_unavailable"
    status = 409
    title = "None of your encryption keys can be used, and the attestation is never sent in clear to you"
    description = _(
        "Your client is set to receive attestations encrypted only, and none of its registered keys (use: enc, EC "
        "or X25519) can be used right now. Nothing was fetched: register a usable key, then ask again."
    )


class ScopeMissing(GatewayError):
    code = "scope_missing"
    status = 403
    title = "The token lacks the scope this operation needs"
    description = _("The token is valid but was not issued with the scope this operation needs.")


class PermissionDeniedError(GatewayError):
    code = "permission_denied"
    status = 403
    title = "You may not perform this operation"
    description = _("The caller may not perform this operation.")


class NotFound(GatewayError):
    code = "not_found"
    status = 404
    title = "Not found"
    description = _("There is no such resource, or it is not yours: a consumer never learns whether another's exists.")


class LeafArchived(GatewayError):
    """The leaf's partition was archived: the answer names the archive file and its SHA-256."""

    code = "leaf_archived"
    status = 410
    title = "The leaf is archived"
    description = _(
        "The part of the trail that holds this leaf was archived: the answer names the archive file, its SHA-256 "
        "and its leaf range. Verify that file offline with the verifier."
    )


class MethodNotAllowed(GatewayError):
    code = "method_not_allowed"
    status = 405
    title = "Method not allowed"
    description = _(
        "The address does not serve this HTTP method; Allow lists those it serves. An operation whose GET "
        "runs an exchange or an audited read serves neither HEAD nor OPTIONS."
    )


class Conflict(GatewayError):
    code = "conflict"
    status = 409
    title = "The request conflicts with the current state"
    description = _("The change is not possible in the current state of the resource.")


class InvalidTransition(Conflict):
    code = "invalid_transition"
    title = "This change is not possible in the current state"
    description = _("The consent cannot move to the requested state from the one it is in.")


class IdempotencyConflict(Conflict):
    code = "idempotency_key_reused"
    title = "This Idempotency-Key was used with a different request"
    description = _("The Idempotency-Key was already used with a different request.")


class NotAcceptable(GatewayError):
    code = "not_acceptable"
    status = 406
    title = "None of the media types in Accept can be served"
    description = _("The Accept header names no media type this operation can answer with.")


class PayloadTooLarge(GatewayError):
    code = "payload_too_large"
    status = 413
    title = "The request body is too large"
    description = _(
        "The request body is larger than the gateway accepts (REQUEST_MAX_BODY_BYTES, 1 MiB by default); it "
        "was not read."
    )


class UriTooLong(GatewayError):
    code = "uri_too_long"
    status = 414
    title = "The address is too long"
    description = _("The path and query of the request are longer than the gateway accepts (REQUEST_MAX_URL_LENGTH).")


class HeadersTooLarge(GatewayError):
    code = "headers_too_large"
    status = 431
    title = "The request's headers are too large"
    description = _(
        "The request has more headers, or a longer header, than the gateway accepts (REQUEST_MAX_HEADERS, "
        "REQUEST_MAX_HEADER_BYTES)."
    )


class UnsupportedMediaType(GatewayError):
    code = "unsupported_media_type"
    status = 415
    title = "Send application/json"
    description = _("The body must be application/json.")


class RateLimited(GatewayError):
    code = "rate_limited"
    status = 429
    title = "Too many requests"
    description = _("Too many requests from this client: wait the number of seconds in Retry-After.")

    def __init__(self, detail: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class ConsentRequired(GatewayError):
    code = "consent_required"
    status = 403
    title = "No consent covers this request"
    description = _(
        "No active consent covers this request: it is pending, was rejected, or covers another attestation type."
    )


class ConsentRevoked(GatewayError):
    code = "consent_revoked"
    status = 403
    title = "The consent was revoked"
    description = _("The consent was withdrawn, by the citizen or by your organisation.")


class ConsentExpired(GatewayError):
    code = "consent_expired"
    status = 403
    title = "The consent has expired"
    description = _("The consent's validity has ended.")


class ConsentPaused(GatewayError):
    code = "consent_paused"
    status = 403
    title = "The citizen paused this consent"
    description = _("The citizen paused the consent; it serves again once they resume it.")


class UsageLimitReached(GatewayError):
    code = "usage_limit_reached"
    status = 403
    title = "The consent's use limit is reached"
    description = _("The consent's use limit is reached.")


class LoaInsufficient(GatewayError):
    code = "loa_insufficient"
    status = 403
    title = "The citizen's login level is below what this attestation requires"
    description = _("The citizen logged in at an eIDAS level below the one this attestation type requires.")


class HabilitationMissing(GatewayError):
    code = "habilitation_missing"
    status = 403
    title = "No approved habilitation covers this request"
    description = _("No approved habilitation covers this attestation type for your organisation.")


class SubjectNotFound(GatewayError):
    code = "subject_not_found"
    status = 404
    title = "The provider does not know this person"
    description = _("The provider does not know this person.")


class ResultGone(GatewayError):
    code = "result_gone"
    status = 410
    title = "The result was already collected or has expired"
    description = _(
        "The result of an asynchronous exchange is handed over once, within EXCHANGE_RESULT_TTL_SECONDS, and "
        "only while its consent serves: it was collected already, it expired, or its consent ended."
    )


class ProviderTimeout(GatewayError):
    code = "provider_timeout"
    status = 504
    title = "The provider did not answer in time"
    description = _("The provider did not answer in time. Try again later.")


class ProviderError(GatewayError):
    code = "provider_error"
    status = 502
    title = "The provider could not deliver the attestation"
    description = _("The provider failed or answered something invalid. Try again later.")


class ServiceUnavailable(GatewayError):
    code = "service_unavailable"
    status = 503
    title = "The service is temporarily unavailable"
    description = _("A dependency of the gateway is down. Try again later.")


# Every error a client can receive, in the order of the catalogue (/api/v1/errors/, docs/errors.md).
CATALOGUE: tuple[type[GatewayError], ...] = (
    ValidationError,
    AuthenticationRequired,
    InvalidDpopProof,
    UseDpopNonce,
    ScopeMissing,
    PermissionDeniedError,
    HabilitationMissing,
    ConsentRequired,
    ConsentPaused,
    ConsentRevoked,
    ConsentExpired,
    UsageLimitReached,
    LoaInsufficient,
    NotFound,
    SubjectNotFound,
    MethodNotAllowed,
    NotAcceptable,
    Conflict,
    InvalidTransition,
    IdempotencyConflict,
    EncryptionKeyUnavailable,
    ResultGone,
    LeafArchived,
    PayloadTooLarge,
    UriTooLong,
    UnsupportedMediaType,
    RateLimited,
    HeadersTooLarge,
    GatewayError,
    ProviderError,
    ServiceUnavailable,
    ProviderTimeout,
)
_BY_CODE = {error.code: error for error in CATALOGUE}
# An exception of a library that only carries a status: the catalogue's first error of that status.
_BY_STATUS = {error.status: error for error in reversed(CATALOGUE)}


def error_class(code: str) -> type[GatewayError] | None:
    return _BY_CODE.get(code)


def internal_error() -> GatewayError:
    """The 500 of an unexpected failure: no detail of it, only the correlation id to quote, which
    also stands on the log line of the failure (core.logfilters.CorrelationId)."""
    correlation_id = get_correlation_id()
    return GatewayError(
        f"An internal error occurred. Quote the correlation id {correlation_id} to the operator.",
        extra={"correlation_id": correlation_id},
    )


def wants_problem(request: HttpRequest) -> bool:
    """Whether an error of this request is answered as problem+json rather than as a page."""
    return request.path.startswith(("/api/", "/oauth/", "/.well-known/")) or "json" in request.headers.get("Accept", "")


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
        return ValidationError("Some fields are missing or invalid.", errors=field_errors(exc.get_full_details()))
    if isinstance(exc, drf_exceptions.ParseError):
        return ValidationError("The body is not valid JSON.")
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge()
    if isinstance(exc, drf_exceptions.NotAcceptable):
        return NotAcceptable()
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
    if isinstance(exc, drf_exceptions.APIException) and exc.status_code in _BY_STATUS:
        return _BY_STATUS[exc.status_code]()
    return None


def _origin(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    return f"{frames[-1].filename}:{frames[-1].lineno}" if frames else "?"


def field_errors(details: Any, prefix: str = "") -> dict[str, list[dict[str, str]]]:
    """DRF's nested error details (`ValidationError.get_full_details()`) in the one shape every
    operation answers with: {"purpose.code": [{"code", "message"}]}, as the services raise them."""
    flat: dict[str, list[dict[str, str]]] = {}
    if isinstance(details, dict):
        for key, value in details.items():
            flat.update(field_errors(value, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(details, list) and details and all(isinstance(e, dict) and "code" in e for e in details):
        flat[prefix or "non_field_errors"] = [{"code": str(e["code"]), "message": str(e["message"])} for e in details]
    elif isinstance(details, list):
        for index, value in enumerate(details):
            flat.update(field_errors(value, f"{prefix}.{index}" if prefix else str(index)))
    return flat


def problem_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER: every API error leaves as problem+json."""
    error = _from_drf(exc)
    request = context.get("request")
    if error is None:
        # Unexpected: log the type and where it was raised, never the message or the locals,
        # which may carry personal data. The correlation id ties the log line to the response.
        logger.error("Unhandled %s at %s in %s", type(exc).__name__, _origin(exc), type(context.get("view")).__name__)
        error = internal_error()
    body = error.problem()
    if request is not None:
        body.setdefault("instance", request.path)
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else None
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        headers = {"WWW-Authenticate": 'Bearer realm="api"'}
    if isinstance(error, DpopChallenge):
        headers = error.response_headers()
    return Response(body, status=error.status, headers=headers, content_type=PROBLEM_CONTENT_TYPE)


class DebugNotFoundMiddleware:
    """In DEBUG (`make run`), Django answers a 404 with its technical HTML page (the URLconf
    dump), before `handler404` runs. Here an API client gets the problem+json it gets in
    production; and a view's own "not found" (a consent, a request, a case that does not exist for
    this person) is the product's page, as in production: only an address no route matches keeps
    the technical page, for developers."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code == 404
            and response.get("Content-Type", "").startswith("text/html")
            and wants_problem(request)
        ):
            return problem_response(NotFound("No resource at this address."), request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponseBase | None:
        # Called for what a view raised, never for an address no route matches (Resolver404).
        if settings.DEBUG and isinstance(exception, Http404):
            handler: Callable[..., HttpResponseBase] = get_resolver(
                getattr(request, "urlconf", None)
            ).resolve_error_handler(404)
            return handler(request, exception)
        return None
