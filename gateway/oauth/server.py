"""An oauthlib server that only knows the grants the gateway allows.

oauthlib's pre-configured `Server` wires in the implicit, password, refresh-token and device grants
too; DOT's RFC 9700 gates refuse some of them, but a grant that is not wired cannot be reached at
all. Authorization codes accept the S256 PKCE method only (RFC 9700 §2.1.1) and issue no refresh
token: a consumer that needs another access token asks the citizen again. Both grants refuse a
parameter the database could not hold (`gateway.oauth.inputs`) with the OAuth error it calls for.
"""

from __future__ import annotations

from typing import Any

from oauthlib.oauth2 import (
    AuthorizationEndpoint,
    BearerToken,
    ClientCredentialsGrant,
    IntrospectEndpoint,
    ResourceEndpoint,
    RevocationEndpoint,
    TokenEndpoint,
)
from oauthlib.oauth2.rfc6749.grant_types import AuthorizationCodeGrant
from oauthlib.oauth2.rfc6749.grant_types.authorization_code import code_challenge_method_s256

from gateway.oauth.details import authorization_details_check
from gateway.oauth.dpop import authorization_dpop_jkt, token_dpop_check
from gateway.oauth.inputs import unstorable_parameters_refuse
from gateway.oauth.par import pushed_request_required


class S256AuthorizationCodeGrant(AuthorizationCodeGrant):
    # A request without code_challenge_method means "plain" (RFC 7636 §4.3): refused too.
    _code_challenge_methods = {"S256": code_challenge_method_s256}
    refresh_token = False


class HardenedServer(AuthorizationEndpoint, IntrospectEndpoint, TokenEndpoint, ResourceEndpoint, RevocationEndpoint):
    def __init__(
        self,
        request_validator: Any,
        token_expires_in: Any = None,
        token_generator: Any = None,
        refresh_token_generator: Any = None,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        # Values the database could not hold are refused before any is looked up or stored.
        # DPoP (gateway.oauth.dpop): a key named on the authorization request, a proof checked once
        # the client is authenticated.
        self.auth_grant = S256AuthorizationCodeGrant(
            request_validator,
            pre_auth=[unstorable_parameters_refuse, pushed_request_required, authorization_details_check],
            post_auth=[authorization_dpop_jkt],
            pre_token=[unstorable_parameters_refuse],
            post_token=[token_dpop_check],
        )
        self.credentials_grant = ClientCredentialsGrant(
            request_validator, pre_token=[unstorable_parameters_refuse], post_token=[token_dpop_check]
        )
        self.bearer = BearerToken(request_validator, token_generator, token_expires_in, refresh_token_generator)
        AuthorizationEndpoint.__init__(
            self,
            default_response_type="code",
            response_types={"code": self.auth_grant},
            default_token_type=self.bearer,
        )
        TokenEndpoint.__init__(
            self,
            default_grant_type="authorization_code",
            grant_types={"authorization_code": self.auth_grant, "client_credentials": self.credentials_grant},
            default_token_type=self.bearer,
        )
        ResourceEndpoint.__init__(self, default_token="Bearer", token_types={"Bearer": self.bearer})  # noqa: S106 (a token type name)
        RevocationEndpoint.__init__(self, request_validator)
        IntrospectEndpoint.__init__(self, request_validator)
