"""The authorization endpoint's page and the RFC 8414 metadata document."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import reverse
from oauth2_provider.forms import AllowForm
from oauth2_provider.views import AuthorizationView, TokenView
from oauth2_provider.views.metadata import OAuthServerMetadataView

from consent.auth import current_citizen, login_url
from consent.models import Consent
from gateway.services.tokens import citizen_user


class GatewayAuthorizationView(AuthorizationView):
    """`/oauth/authorize/`: the citizen, logged in through the gateway's citizen login, approves.

    Django-oauth-toolkit's grants need a Django user: the citizen is represented by a password-less
    user (`citizen_user`). `skip_authorization` clients are refused by the validator before this
    view would honour the flag, and the client's `approval_prompt=auto` is dropped: the citizen
    always decides.
    """

    template_name = "gateway/oauth/authorize.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        citizen = current_citizen(request)
        if citizen is None:
            return HttpResponseRedirect(login_url(request.get_full_path()))
        request.user = citizen_user(citizen)  # type: ignore[assignment]
        self.citizen = citizen
        self.approved_consent: Consent | None = None
        if "approval_prompt" in request.GET:
            query = request.GET.copy()
            query.pop("approval_prompt")
            request.GET = query  # type: ignore[assignment]
        return super().dispatch(request, *args, **kwargs)

    def consent_for_approval(self, form: AllowForm) -> Consent | None:
        """Hook for the interactive consent screen: create the consent the citizen approved on this
        page (active, with its terms) and return it; the tokens the code buys are then bound to it
        (consent.TokenBinding). Without a consent screen yet, nothing is bound and the consumer
        passes `?consent=` on the exchange."""
        return None

    def form_valid(self, form: AllowForm) -> HttpResponse:
        if form.cleaned_data.get("allow"):
            self.approved_consent = self.consent_for_approval(form)
        return super().form_valid(form)

    def create_authorization_response(
        self, request: HttpRequest, scopes: str, credentials: dict[str, Any], allow: bool
    ) -> tuple[str, dict[str, str], str | None, int]:
        if allow and self.approved_consent is not None:
            # oauthlib copies credentials onto its request; the validator stores it with the code.
            credentials["consent_id"] = self.approved_consent.pk
        return super().create_authorization_response(request, scopes, credentials, allow)


class AuthorizationServerMetadataView(OAuthServerMetadataView):
    """RFC 8414 metadata, completed with what DOT only publishes when OpenID Connect is on."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        data["code_challenge_methods_supported"] = ["S256"]
        data["authorization_response_iss_parameter_supported"] = True
        data["jwks_uri"] = request.build_absolute_uri(reverse("jwks"))
        data["response_modes_supported"] = ["query"]
        data["require_pushed_authorization_requests"] = False
        data.pop("client_id_metadata_document_supported", None)
        metadata = JsonResponse(data)
        metadata["Access-Control-Allow-Origin"] = "*"
        metadata["Cache-Control"] = "public, max-age=300"
        return metadata


class GatewayTokenView(TokenView):
    """`/oauth/token/`: DOT answers the device-code grant before oauthlib sees the request; the
    gateway has no device flow, so every grant type goes to the (narrowed) oauthlib server."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        return self.authorization_flow_token_response(request)
