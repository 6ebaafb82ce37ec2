"""Reads of the gateway that cross a trust boundary."""

from __future__ import annotations

from oauth2_provider.models import AccessToken

from core.errors import AuthenticationRequired
from gateway.oauth.scopes import api_client_for
from gateway.services.exchanges import Caller


def caller_for_token(access_token: object) -> Caller:
    """The consumer behind a bearer token DRF authenticated; a token of a client that is no longer
    linked to an active organisation is not a valid token."""
    if not isinstance(access_token, AccessToken) or access_token.application is None:
        raise AuthenticationRequired()
    api_client = api_client_for(access_token.application)
    if api_client is None or not api_client.organisation.active:
        raise AuthenticationRequired()
    return Caller(
        organisation=api_client.organisation,
        client_id=access_token.application.client_id,
        access_token=access_token,
    )
