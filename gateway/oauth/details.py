"""Rich authorization requests (RFC 9396): `authorization_details` of type `attestation`.

Each detail asks for one attestation type, and may narrow it to some of the fields the
consumer's habilitation covers, and state the consent's purpose, duration and use limit:

    {"type": "attestation", "attestation_type": "cnaf.quotient-familial",
     "fields": ["quotient_familial"], "purpose": "...", "duration_days": 30, "max_uses": 3}

The details of one request make one consent: they share purpose, duration and use limit. The
types they name join the request's scopes (the scope ceiling applies to them as to any scope);
the fields are held to the habilitation on the consent screen (`consent.services.interactive`),
which shows exactly what was asked. What the citizen granted is echoed in the token response and
in introspection. Anything else (another type, an unknown member, a malformed value) is
`invalid_authorization_details`, in the trail with its reason.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from oauthlib.oauth2.rfc6749 import errors, utils

from gateway.oauth.scopes import attestation_scope
from providers.models import SLUG_RE
from providers.services import oauth_refusal_record

DETAIL_TYPE = "attestation"
MEMBERS = {"type", "attestation_type", "fields", "purpose", "duration_days", "max_uses"}
# What one consent carries: the same for every detail of a request.
SHARED = ("purpose", "duration_days", "max_uses")
MAX_DETAILS = 20
MAX_LENGTH = 4000


class InvalidAuthorizationDetailsError(errors.OAuth2Error):
    error = "invalid_authorization_details"
    status_code = 400


class DetailsRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def details_parse(value: str) -> list[dict[str, Any]]:
    """The authorization details of a request, checked for shape (not yet against habilitations)
    and normalised; DetailsRefused otherwise."""
    if len(value) > MAX_LENGTH:
        raise DetailsRefused("details_too_long")
    try:
        details = json.loads(value)
    except ValueError:
        raise DetailsRefused("details_not_json") from None
    if not isinstance(details, list) or not details or len(details) > MAX_DETAILS:
        raise DetailsRefused("details_not_a_list")
    normalised: list[dict[str, Any]] = []
    for detail in details:
        if not isinstance(detail, dict):
            raise DetailsRefused("detail_not_an_object")
        if detail.get("type") != DETAIL_TYPE:
            raise DetailsRefused("detail_type_unknown")
        if set(detail) - MEMBERS:
            raise DetailsRefused("detail_member_unknown")
        slug = detail.get("attestation_type")
        if not isinstance(slug, str) or not SLUG_RE.match(slug):
            raise DetailsRefused("detail_attestation_type")
        fields = detail.get("fields")
        if fields is not None and (
            not isinstance(fields, list) or not fields or not all(isinstance(name, str) and name for name in fields)
        ):
            raise DetailsRefused("detail_fields")
        if "purpose" in detail and not (isinstance(detail["purpose"], str) and 0 < len(detail["purpose"]) <= 100):
            raise DetailsRefused("detail_purpose")
        for name in ("duration_days", "max_uses"):
            if name in detail and (not isinstance(detail[name], int) or isinstance(detail[name], bool)):
                raise DetailsRefused(f"detail_{name}")
        normalised.append({name: detail[name] for name in sorted(detail)})
    slugs = [detail["attestation_type"] for detail in normalised]
    if len(slugs) != len(set(slugs)):
        raise DetailsRefused("detail_type_repeated")
    for name in SHARED:
        if len({json.dumps(detail.get(name)) for detail in normalised if name in detail}) > 1:
            raise DetailsRefused(f"details_{name}_differ")
    return normalised


def details_terms(details: list[dict[str, Any]]) -> dict[str, Any]:
    """The consent's terms the details state (purpose, duration_days, max_uses), and the fields
    asked for by type."""
    terms: dict[str, Any] = {name: detail[name] for detail in details for name in SHARED if name in detail}
    terms["fields"] = {detail["attestation_type"]: detail["fields"] for detail in details if detail.get("fields")}
    return terms


def authorization_details_check(request: Any) -> dict[str, Any]:
    """oauthlib custom validator (pre_auth): parses `authorization_details`, adds the types it
    names to the request's scopes (checked against the ceiling next) and passes the normalised
    details on with the request."""
    values = [value for name, value in request.uri_query_params if name == "authorization_details"]
    if not values:
        return {}
    try:
        if len(values) != 1:
            raise DetailsRefused("details_repeated")
        details = details_parse(values[0])
    except DetailsRefused as refused:
        client_id = getattr(request.client, "client_id", "") or ""
        oauth_refusal_record(reason=refused.reason, endpoint=urlsplit(request.uri).path, client_id=client_id)
        raise InvalidAuthorizationDetailsError(
            description=f"authorization_details refused: {refused.reason}.", request=request
        ) from None
    scopes = utils.scope_to_list(request.scope) or []
    request.scopes = list(dict.fromkeys([*scopes, *(attestation_scope(d["attestation_type"]) for d in details)]))
    return {"authorization_details": json.dumps(details, separators=(",", ":"))}
