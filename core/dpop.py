"""DPoP proofs (RFC 9449): what a client signs with its key for each request, and the nonces the
gateway hands out, checked the same way at the token endpoint and on every API call.

A proof is a JWT of type `dpop+jwt`, signed with one of the client algorithms by the key whose
public JWK is in its header. It names the request (`htm`, `htu` without query or fragment,
§4.3), is fresh (`iat` within a window, §11.1), fresh again (`jti` remembered until it would be
stale anyway, `core.replay`), carries the server's current nonce (§8, §9) and, beside an access
token, that token's hash (`ath`, §4.2). The key's RFC 7638 thumbprint (`jkt`) is what tokens
and codes are bound to.

Nonces are stateless: an HMAC of the current time window under a key derived from SECRET_KEY, so
every web node hands out and accepts the same ones without sharing anything; the previous
window's nonce stays valid, so a client never needs more than one retry.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from django.conf import settings

from core.jose import CLIENT_ALGORITHMS, JoseRefused, jwt_verify, public_key_import, thumbprint, unverified_jwt
from core.replay import ReplayCacheUnavailable, first_use

PROOF_TYPE = "dpop+jwt"
MAX_PROOF_LENGTH = 8000
MAX_JTI_LENGTH = 200
DEFAULT_PORTS = {"http": 80, "https": 443}


class DpopRefused(Exception):
    """The proof does not pass. `reason` is short and stable (it goes into the trail); `error` is
    the OAuth error code the client reads: `invalid_dpop_proof`, or `use_dpop_nonce` when only a
    fresh nonce is missing (then the response carries one)."""

    def __init__(self, reason: str, *, error: str = "invalid_dpop_proof") -> None:
        super().__init__(reason)
        self.reason = reason
        self.error = error


@dataclass(frozen=True)
class DpopProof:
    jkt: str
    jti: str


def b64url_sha256(value: str) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(value.encode("ascii")).digest()).rstrip(b"=").decode("ascii")


@lru_cache(maxsize=4)
def _nonce_key(secret: str) -> bytes:
    return hmac.new(secret.encode(), b"core/dpop/nonce", hashlib.sha256).digest()


def _nonce_for(window: int) -> str:
    digest = hmac.new(_nonce_key(settings.SECRET_KEY), str(window).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest[:18]).decode("ascii")


def dpop_nonce(now: float | None = None) -> str:
    """The nonce a client must put in its next proofs (`DPoP-Nonce` response header)."""
    now = time.time() if now is None else now
    return _nonce_for(int(now // settings.DPOP_NONCE_LIFETIME_SECONDS))


def _nonce_valid(nonce: object, now: float) -> bool:
    if not isinstance(nonce, str):
        return False
    window = int(now // settings.DPOP_NONCE_LIFETIME_SECONDS)
    return any(hmac.compare_digest(nonce, _nonce_for(w)) for w in (window, window - 1))


def normalised_htu(url: str) -> str | None:
    """The URL as §4.3 compares it: scheme and host in lower case, default port dropped, no query
    or fragment; None when it is not an absolute http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port in (None, DEFAULT_PORTS[scheme]) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", "", ""))


def dpop_proof_check(
    proof: str | None, *, method: str, url: str, access_token: str | None = None, now: float | None = None
) -> DpopProof:
    """The checked proof of one request to `method` `url` (with `access_token` on a resource
    request); DpopRefused otherwise. The `jti` is spent only once every other check passed."""
    now = time.time() if now is None else now
    if not proof:
        raise DpopRefused("proof_missing")
    if len(proof) > MAX_PROOF_LENGTH or "," in proof:
        # A comma is no part of a compact JWS: two DPoP headers were sent (§4.3 allows one).
        raise DpopRefused("proof_malformed")
    try:
        header, _ = unverified_jwt(proof)
        if header.get("typ") != PROOF_TYPE:
            raise DpopRefused("proof_type")
        if header.get("alg") not in CLIENT_ALGORITHMS:
            raise DpopRefused("algorithm_not_allowed")
        key = public_key_import(header.get("jwk"))
        _, claims = jwt_verify(proof, key)
    except JoseRefused as refused:
        raise DpopRefused(refused.reason) from None
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti or len(jti) > MAX_JTI_LENGTH:
        raise DpopRefused("jti_missing")
    if claims.get("htm") != method:
        raise DpopRefused("htm_mismatch")
    htu = claims.get("htu")
    if not isinstance(htu, str) or normalised_htu(htu) is None or normalised_htu(htu) != normalised_htu(url):
        raise DpopRefused("htu_mismatch")
    iat = claims.get("iat")
    if not isinstance(iat, int | float) or isinstance(iat, bool):
        raise DpopRefused("iat_missing")
    if iat < now - settings.DPOP_MAX_AGE_SECONDS:
        raise DpopRefused("iat_stale")
    if iat > now + settings.DPOP_CLOCK_SKEW_SECONDS:
        raise DpopRefused("iat_future")
    ath = claims.get("ath")
    if access_token is not None and not (
        isinstance(ath, str) and hmac.compare_digest(ath, b64url_sha256(access_token))
    ):
        raise DpopRefused("ath_mismatch")
    if settings.DPOP_NONCE_REQUIRED and not _nonce_valid(claims.get("nonce"), now):
        raise DpopRefused("nonce_missing" if "nonce" not in claims else "nonce_stale", error="use_dpop_nonce")
    jkt = thumbprint(key)
    try:
        fresh = first_use(
            namespace=f"dpop:{jkt}",
            value=jti,
            ttl=settings.DPOP_MAX_AGE_SECONDS + settings.DPOP_CLOCK_SKEW_SECONDS + 1,
        )
    except ReplayCacheUnavailable:
        raise DpopRefused("replay_cache_unavailable") from None
    if not fresh:
        raise DpopRefused("jti_replayed")
    return DpopProof(jkt=jkt, jti=jti)
