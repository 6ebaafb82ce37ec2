"""DPoP at the authorization server (RFC 9449 §5, §10): proofs at the token endpoint, and codes
bound to a key on the authorization request.

A token request may carry a `DPoP` proof (checked by `core.dpop` for POST to the token endpoint's
URL); its key's thumbprint goes with the request to `save_bearer_token`, which issues a token of
type DPoP bound to it. A client set to require DPoP gets no token without one; a code issued for
an authorization request naming `dpop_jkt` is redeemed only with a proof by that key. Refusals
are `invalid_dpop_proof` or `use_dpop_nonce` (with a `DPoP-Nonce` header), each in the trail.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from oauthlib.oauth2.rfc6749 import errors

from core.dpop import DpopRefused, dpop_nonce, dpop_proof_check
from gateway.models import AuthorizationCode
from gateway.oauth.backends import URL_KEY
from gateway.oauth.scopes import api_client_for
from gateway.services.tokens import token_checksum
from providers.services import oauth_refusal_record

JKT_RE = re.compile(r"^[A-Za-z0-9_-]{43}$")


class InvalidDpopProofError(errors.OAuth2Error):
    error = "invalid_dpop_proof"
    status_code = 400


class UseDpopNonceError(errors.OAuth2Error):
    error = "use_dpop_nonce"
    status_code = 400

    @property
    def headers(self) -> dict[str, str]:
        # §8: the nonce to put in the next proof.
        return {"DPoP-Nonce": dpop_nonce(), "Cache-Control": "no-store"}


def _refuse(request: Any, reason: str, error: str = "invalid_dpop_proof") -> errors.OAuth2Error:
    client_id = getattr(request.client, "client_id", "") or ""
    oauth_refusal_record(reason=reason, endpoint=urlsplit(request.uri).path, client_id=client_id)
    error_class = UseDpopNonceError if error == "use_dpop_nonce" else InvalidDpopProofError
    return error_class(description=f"DPoP proof refused: {reason}.", request=request)


def token_dpop_check(request: Any) -> dict[str, Any]:
    """oauthlib custom validator (post_token, once the client is authenticated): sets
    `request.dpop_jkt` from a valid proof, or raises the OAuth error of the refusal."""
    # DOT hands oauthlib the request's META: the DPoP header is HTTP_DPOP (two headers are joined
    # by a comma, which core.dpop refuses).
    proof = request.headers.get("HTTP_DPOP")
    api_client = api_client_for(request.client)
    code_jkt = ""
    if request.grant_type == "authorization_code" and request.code:
        code_jkt = (
            AuthorizationCode.objects.filter(code_sha256=token_checksum(request.code))
            .values_list("dpop_jkt", flat=True)
            .first()
            or ""
        )
    request.dpop_jkt = None
    if proof is None:
        if (api_client is not None and api_client.require_dpop) or code_jkt:
            raise _refuse(request, "proof_missing")
        return {}
    try:
        checked = dpop_proof_check(proof, method=request.http_method, url=request.headers[URL_KEY])
    except DpopRefused as refused:
        raise _refuse(request, refused.reason, refused.error) from None
    if code_jkt and checked.jkt != code_jkt:
        raise _refuse(request, "key_not_bound_to_code")
    request.dpop_jkt = checked.jkt
    return {}


def authorization_dpop_jkt(request: Any) -> dict[str, Any]:
    """oauthlib custom validator (post_auth): the `dpop_jkt` an authorization request names, kept
    with the code it buys (`save_authorization_code`)."""
    values = [value for name, value in request.uri_query_params if name == "dpop_jkt"]
    if not values:
        return {}
    if len(values) != 1 or not JKT_RE.match(values[0]):
        raise errors.InvalidRequestError(
            description="dpop_jkt is the base64url SHA-256 thumbprint of a key.", request=request
        )
    return {"dpop_jkt": values[0]}
