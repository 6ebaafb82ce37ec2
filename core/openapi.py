"""What the OpenAPI schema says beyond what drf-spectacular infers from the views: the errors.

(The `oauth2` security scheme names the catalogue's scopes, so it lives in gateway.openapi.)

- The errors: every 4xx an operation can answer, as `application/problem+json` (RFC 9457), added
  by `problems_declare` (a post-processing hook) from what the operation takes and who may call it.
"""

from __future__ import annotations

from typing import Any

from core.errors import CATALOGUE, PROBLEM_CONTENT_TYPE, problem_type

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "An RFC 9457 problem. Branch on `code`; `type` is the code's entry in /api/v1/errors/.",
    "properties": {
        "type": {"type": "string", "format": "uri"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "code": {"type": "string", "enum": [error.code for error in CATALOGUE]},
        "instance": {"type": "string"},
        "errors": {
            "type": "object",
            "description": "validation_error only: what is wrong with each field",
            "additionalProperties": True,
        },
        "correlation_id": {"type": "string", "description": "internal_error only: the id to quote"},
        "retry_after": {"type": "integer"},
    },
    "required": ["type", "title", "status", "detail", "code"],
    "example": {
        "type": problem_type("consent_revoked"),
        "title": "The consent was revoked",
        "status": 403,
        "detail": "The consent was revoked",
        "code": "consent_revoked",
        "instance": "/api/v1/attestations/cnaf.quotient-familial",
    },
}

_DESCRIPTIONS = {
    "400": "The request is not valid (validation_error); nothing was changed",
    "401": "No valid bearer token (authentication_required)",
    "403": "The token or the caller may not do this (scope_missing, permission_denied, consent_*, …)",
    "404": "No such resource, or not yours (not_found)",
    "406": "The Accept header names nothing this operation serves (not_acceptable)",
    "409": "The change conflicts with the current state",
    "410": "The result was collected already or has expired (result_gone)",
    "413": "The body is too large (payload_too_large)",
    "414": "The address is too long (uri_too_long)",
    "415": "The body is not application/json (unsupported_media_type)",
    "429": "Too many requests (rate_limited); wait Retry-After seconds",
    "431": "Too many headers, or one too long (headers_too_large)",
}


def _problem(status: str) -> dict[str, Any]:
    return {
        "description": _DESCRIPTIONS.get(status, "A problem"),
        "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


def _statuses(operation: dict[str, Any], path: str) -> set[str]:
    statuses = {"406", "414", "431"}
    parameters = [parameter for parameter in operation.get("parameters", []) if parameter.get("in") != "path"]
    if parameters or "requestBody" in operation:
        statuses.add("400")
    if "requestBody" in operation:
        statuses |= {"413", "415"}
    if "{" in path:
        statuses.add("404")
    if any(requirement for requirement in operation.get("security", [])):
        statuses |= {"401", "403", "404", "429"}
    return statuses


# Links between operations (OpenAPI 3 `links`): what a client does next with an answer, and the
# paths a stateful test walks.
LINKS: dict[tuple[str, str], dict[str, Any]] = {
    ("exchange_create", "202"): {
        "ExchangeGet": {"operationId": "exchange_get", "parameters": {"exchange_id": "$response.body#/exchange_id"}},
    },
    ("consent_request_create", "201"): {
        "ConsentRetrieve": {"operationId": "consent_retrieve", "parameters": {"consent_id": "$response.body#/id"}},
        "ConsentEnd": {"operationId": "consent_end", "parameters": {"consent_id": "$response.body#/id"}},
        "AttestationGet": {
            "operationId": "attestation_get",
            "parameters": {"slug": "$response.body#/attestation_types/0", "consent": "$response.body#/id"},
        },
    },
    ("consents_list", "200"): {
        "ConsentRetrieve": {
            "operationId": "consent_retrieve",
            "parameters": {"consent_id": "$response.body#/results/0/id"},
        },
    },
}


def problems_declare(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """drf-spectacular POSTPROCESSING_HOOK: the problem+json answers of every API operation."""
    result.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    for path, operations in result.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                # Errors a view declares (with DRF's default media type, or none) are problems.
                if status[0] in "45":
                    response.update(_problem(status))
            for status in sorted(_statuses(operation, path)):
                responses.setdefault(status, _problem(status))
            for (operation_id, status), links in LINKS.items():
                if operation.get("operationId") == operation_id and status in responses:
                    responses[status]["links"] = links
    return result
