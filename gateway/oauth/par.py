"""Pushed authorization requests (RFC 9126).

A client posts its authorization request's parameters to `/oauth/par`, authenticated as at the
token endpoint; they are checked as the authorization endpoint would check them, stored, and
answered with a `request_uri` (single use, OAUTH_PAR_LIFETIME_SECONDS). The citizen's browser
then carries only `client_id` and `request_uri` to `/oauth/authorize/`, which works from the
stored parameters (`pushed_request_for`) and spends the request_uri on the citizen's decision
(`pushed_request_spend`). A client set to require PAR is refused any other authorization request
(`pushed_request_required`, §5).
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.views.decorators.csrf import csrf_exempt
from oauth2_provider.settings import oauth2_settings
from oauthlib.common import Request as OAuthRequest
from oauthlib.oauth2.rfc6749 import errors

from core.dpop import DpopRefused, dpop_nonce, dpop_proof_check
from gateway.models import PushedAuthorizationRequest
from gateway.oauth.endpoints import ClientEndpoint
from gateway.oauth.scopes import api_client_for
from gateway.services.tokens import token_checksum
from providers.services import oauth_refusal_record

REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
# Set (as a META key no client can send) on an authorization request worked from a pushed one.
PUSHED_KEY = "GATEWAY_PUSHED"
# What authenticates the client at /oauth/par: not part of the authorization request.
CLIENT_AUTH_PARAMS = {"client_assertion", "client_assertion_type", "client_secret"}


class RequestUriRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class PushedRequest:
    pk: int
    client_id: str
    params: dict[str, str]


def pushed_request_required(request: Any) -> dict[str, Any]:
    """oauthlib custom validator (pre_auth): a client set to require PAR sends its authorization
    requests only by reference (RFC 9126 §5)."""
    api_client = api_client_for(request.client)
    if api_client is not None and api_client.require_par and request.headers.get(PUSHED_KEY) != "1":
        oauth_refusal_record(reason="par_required", endpoint="/oauth/authorize/", client_id=request.client.client_id)
        raise errors.InvalidRequestError(
            description="This client pushes its authorization requests (RFC 9126): send request_uri.",
            request=request,
        )
    return {}


def pushed_request_for(*, request_uri: str, client_id: str) -> PushedRequest:
    """The live pushed request `request_uri` names for `client_id`; RequestUriRefused otherwise
    (each refusal in the trail)."""
    row = (
        PushedAuthorizationRequest.objects.select_related("application")
        .filter(request_uri_sha256=token_checksum(request_uri))
        .first()
    )
    reason = None
    if row is None or row.application.client_id != client_id:
        reason = "request_uri_unknown"
    elif row.used_at is not None:
        reason = "request_uri_used"
    elif row.expires_at <= timezone.now():
        reason = "request_uri_expired"
    if reason is not None:
        known = row is not None and row.application.client_id == client_id
        oauth_refusal_record(reason=reason, endpoint="/oauth/authorize/", client_id=client_id if known else "")
        raise RequestUriRefused(reason)
    assert row is not None
    return PushedRequest(pk=row.pk, client_id=client_id, params=dict(row.params))


def pushed_request_spend(pushed: PushedRequest) -> bool:
    """Spends the request_uri (in the caller's transaction); False when it was spent already."""
    return bool(
        PushedAuthorizationRequest.objects.filter(pk=pushed.pk, used_at__isnull=True).update(used_at=timezone.now())
    )


def _error(status: int, error: str, description: str) -> JsonResponse:
    response = JsonResponse({"error": error, "error_description": description}, status=status)
    response["Cache-Control"] = "no-store"
    return response


@method_decorator(csrf_exempt, name="dispatch")
class PushedAuthorizationRequestView(ClientEndpoint):
    """`/oauth/par` (RFC 9126 §2)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        core = self.get_oauthlib_core()
        uri, http_method, body, headers = core._extract_params(request)
        oauth_request = OAuthRequest(uri, http_method=http_method, body=body, headers=headers)
        validator = oauth2_settings.OAUTH2_VALIDATOR_CLASS()
        if not validator.authenticate_client(oauth_request):
            return _error(401, "invalid_client", "Client authentication failed.")
        client = oauth_request.client
        pairs = [(key, value) for key, value in oauth_request.decoded_body or [] if key not in CLIENT_AUTH_PARAMS]
        names = [key for key, _ in pairs]
        if len(names) != len(set(names)):
            return _error(400, "invalid_request", "A parameter is repeated.")
        params = dict(pairs)
        if "request_uri" in params or "request" in params:
            return _error(400, "invalid_request", "Push the parameters themselves: no request or request_uri.")
        if params.setdefault("client_id", client.client_id) != client.client_id:
            return _error(400, "invalid_request", "client_id is not the authenticated client's.")
        proof = request.META.get("HTTP_DPOP")
        if proof is not None:
            # RFC 9449 §10.1: a proof at the PAR endpoint binds the code to its key, as dpop_jkt would.
            try:
                jkt = dpop_proof_check(proof, method="POST", url=request.build_absolute_uri(request.path)).jkt
            except DpopRefused as refused:
                oauth_refusal_record(reason=refused.reason, endpoint=request.path, client_id=client.client_id)
                response = _error(400, refused.error, f"DPoP proof refused: {refused.reason}.")
                if refused.error == "use_dpop_nonce":
                    response["DPoP-Nonce"] = dpop_nonce()
                return response
            if params.setdefault("dpop_jkt", jkt) != jkt:
                oauth_refusal_record(reason="dpop_jkt_mismatch", endpoint=request.path, client_id=client.client_id)
                return _error(400, "invalid_dpop_proof", "dpop_jkt is not the thumbprint of the proof's key.")
        authorize_uri = request.build_absolute_uri(reverse("oauth2_provider:authorize")) + "?" + urlencode(params)
        server = core.server
        try:
            server.validate_authorization_request(authorize_uri, http_method="GET", headers={PUSHED_KEY: "1"})
        except errors.OAuth2Error as error:
            oauth_refusal_record(reason=f"par_{error.error}", endpoint=request.path, client_id=client.client_id)
            return _error(400, error.error, error.description or "The authorization request is not valid.")
        request_uri = REQUEST_URI_PREFIX + secrets.token_urlsafe(32)
        lifetime = settings.OAUTH_PAR_LIFETIME_SECONDS
        with transaction.atomic():
            PushedAuthorizationRequest.objects.create(
                request_uri_sha256=token_checksum(request_uri),
                application=client,
                params=params,
                expires_at=timezone.now() + dt.timedelta(seconds=lifetime),
            )
        response = JsonResponse({"request_uri": request_uri, "expires_in": lifetime}, status=201)
        response["Cache-Control"] = "no-store"
        return response
