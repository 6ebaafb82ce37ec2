"""What the OAuth endpoints take from a client before anything reaches the database.

PostgreSQL's text holds no NUL character, psycopg cannot encode a lone surrogate, and a value
longer than its column can be neither stored nor matched (`core.text`): no client was ever given
one. A parameter
holding such a value is refused with the error RFC 6749 §5.2 gives for that parameter
(`invalid_client` for the credentials, `invalid_grant` for a code, `invalid_request` otherwise)
instead of a database error. The validator applies the rule where it loads a client and checks a
secret; `unstorable_parameters_refuse` applies it to every other parameter of an authorization or
token request, as an oauthlib custom validator.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from oauth2_provider.models import Application, Grant
from oauthlib.oauth2.rfc6749 import errors

from core.text import text_storable

# Longest value of any parameter stored nowhere in particular (URIs, state, scope, verifier).
MAX_LENGTH = 2000


def _column(model: Any, name: str) -> int:
    max_length: int = model._meta.get_field(name).max_length
    return max_length


# Parameters that are stored or looked up in a column of their own: its length is theirs.
MAX_LENGTHS = {
    "client_id": _column(Application, "client_id"),
    "client_secret": _column(Application, "client_secret"),
    "code": _column(Grant, "code"),
    "code_challenge": _column(Grant, "code_challenge"),
    "code_challenge_method": _column(Grant, "code_challenge_method"),
    "nonce": _column(Grant, "nonce"),
}

# The error each parameter calls for when it holds what no client could have been given.
_ERRORS: dict[str, type[errors.OAuth2Error]] = {
    "client_id": errors.InvalidClientError,
    "client_secret": errors.InvalidClientError,
    "code": errors.InvalidGrantError,
}


def storable(name: str, value: str) -> bool:
    """Whether the database could hold `value` as the parameter `name`."""
    return text_storable(value, max_length=MAX_LENGTHS.get(name, MAX_LENGTH))


def unstorable_parameters_refuse(request: Any) -> dict[str, Any]:
    """oauthlib custom validator (pre_auth, pre_token): raises the OAuth error of the first
    parameter, from the query or the body, that the database could not hold."""
    for name, value in [*request.uri_query_params, *(request.decoded_body or [])]:
        if isinstance(value, str) and not storable(name, value):
            error_class = _ERRORS.get(name, errors.InvalidRequestError)
            raise error_class(
                description=f"The {name} parameter holds a NUL, an unpaired surrogate or too many characters.",
                request=request,
            )
    return {}


@dataclass(frozen=True)
class ClientCredentials:
    client_id: str
    secret: str | None


def presented_credentials(
    *, authorization: str | None, client_id: str | None, client_secret: str | None
) -> ClientCredentials | None:
    """The credentials a client sent as RFC 6749 §2.3.1 lets it: HTTP Basic (each part
    form-urlencoded first), else client_id and client_secret in the body. A Basic header that does
    not decode, or whose client id the body contradicts, is no credentials at all: the client must
    not mix methods."""
    scheme, _, encoded = (authorization or "").strip().partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        basic_id, colon, basic_secret = decoded.partition(":")
        if not colon:
            return None
        basic_id, basic_secret = unquote_plus(basic_id), unquote_plus(basic_secret)
        if client_id and client_id != basic_id:
            return None
        return ClientCredentials(basic_id, basic_secret)
    if client_id:
        return ClientCredentials(client_id, client_secret)
    return None
