"""The API's one authentication class. Project infrastructure: imports no app."""

from __future__ import annotations

from typing import Any

from oauth2_provider.contrib.rest_framework import OAuth2Authentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request


class HeaderBearerAuthentication(OAuth2Authentication):
    """Bearer tokens in the Authorization header only (RFC 9700 §4.3.2): a token in the URL ends up
    in logs and browser history, so a request carrying one is refused even with a valid header."""

    def authenticate(self, request: Request) -> Any:
        if "access_token" in request.query_params:
            raise AuthenticationFailed("Send the access token in the Authorization header, never in the URL.")
        return super().authenticate(request)
