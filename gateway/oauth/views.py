"""The authorization endpoint's page (the interactive consent screen) and the RFC 8414 metadata."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit, urlunsplit

from django import forms
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse, QueryDict
from django.urls import reverse
from django.utils.cache import add_never_cache_headers
from django.utils.translation import gettext as _
from oauth2_provider.exceptions import FatalClientError, OAuthToolkitError
from oauth2_provider.forms import AllowForm
from oauth2_provider.models import Application
from oauth2_provider.settings import oauth2_settings
from oauth2_provider.views import AuthorizationView
from oauth2_provider.views.metadata import OAuthServerMetadataView
from oauthlib.oauth2.rfc6749 import errors as oauth_errors

from consent.auth import current_citizen, current_level, login_url
from consent.models import Consent
from consent.services import (
    InteractiveRequest,
    PreviewItem,
    interactive_consent_approve,
    interactive_preview,
    interactive_request_build,
)
from consent.views.decision import decision_context
from core.errors import GatewayError, HabilitationMissing, ValidationError
from core.jose import ALGORITHM as JWS_ALGORITHM
from core.jose import CLIENT_ALGORITHMS
from gateway.oauth.details import DETAIL_TYPE, InvalidAuthorizationDetailsError, details_terms
from gateway.oauth.par import PUSHED_KEY, PushedRequest, RequestUriRefused, pushed_request_for, pushed_request_spend
from gateway.oauth.scopes import ATTESTATION_SCOPE_PREFIX, api_client_for
from gateway.services.tokens import citizen_user
from providers.services import oauth_refusal_record

# The authorization request's parameters the screen carries from the GET to the POSTs.
OAUTH_PARAMS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "dpop_jkt",
    "authorization_details",
)
TERMS_PARAMS = ("purpose", "duration_days", "max_uses")


class TermsParamsForm(forms.Form):
    """The consent's terms a consumer may set on the authorization request (ranges: the service)."""

    purpose = forms.CharField(required=False, max_length=100, widget=forms.HiddenInput())
    duration_days = forms.IntegerField(required=False, widget=forms.HiddenInput())
    max_uses = forms.IntegerField(required=False, widget=forms.HiddenInput())


class InteractiveAllowForm(AllowForm, TermsParamsForm):
    # RFC 9449 §10: the DPoP key the code will be bound to (checked by gateway.oauth.dpop).
    dpop_jkt = forms.CharField(required=False, max_length=64, widget=forms.HiddenInput())
    # RFC 9126: the pushed request the screen was shown for (its parameters come from the store).
    request_uri = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput())
    # RFC 9396: what was asked for, field by field (gateway.oauth.details).
    authorization_details = forms.CharField(required=False, max_length=4000, widget=forms.HiddenInput())


def with_issuer(uri: str, issuer: str) -> str:
    """RFC 9207: exactly one `iss` in every authorization response, errors included."""
    parts = urlsplit(uri)
    query = [(key, value) for key, value in parse_qsl(parts.query, keep_blank_values=True) if key != "iss"]
    query.append(("iss", issuer))
    return urlunsplit(parts._replace(query=urlencode(query)))


class GatewayAuthorizationView(AuthorizationView):
    """`/oauth/authorize/`: the interactive consent screen.

    The citizen logs in through the gateway's citizen login, reads the same terms as on the
    approval page of the decoupled flow, may preview their own data, then approves or rejects.
    Approving creates the consent (active, with its audit events) in the transaction that stores
    the authorization code, and the code carries it: the tokens it buys are bound to that consent.
    Rejecting stores nothing and answers `access_denied`.

    Django-oauth-toolkit's grants need a Django user: the citizen is represented by a password-less
    user (`citizen_user`). The screen always shows: `skip_authorization` clients are refused by the
    validator and the client's `approval_prompt=auto` is never consulted.
    """

    template_name = "gateway/oauth/authorize.html"
    form_class = InteractiveAllowForm

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        citizen = current_citizen(request)
        if citizen is None:
            return HttpResponseRedirect(login_url(request.get_full_path()))
        request.user = citizen_user(citizen)  # type: ignore[assignment]
        self.citizen = citizen
        self.approved_consent: Consent | None = None
        self.interactive: InteractiveRequest | None = None
        self.code_issued = False
        self.dpop_jkt: str | None = None
        self.authorization_details: str | None = None
        self.pushed: PushedRequest | None = None
        self.request_uri = ""
        source = request.POST if request.method == "POST" else request.GET
        request_uri = source.get("request_uri") or request.GET.get("request_uri")
        if request_uri:
            try:
                self.pushed = pushed_request_for(
                    request_uri=request_uri, client_id=source.get("client_id") or request.GET.get("client_id") or ""
                )
            except RequestUriRefused as refused:
                return self._request_uri_refused(refused.reason)
            self.request_uri = request_uri
            self._work_from_pushed(request, request_uri)
        if "approval_prompt" in request.GET:
            query = request.GET.copy()
            query.pop("approval_prompt")
            request.GET = query  # type: ignore[assignment]
        response = super().dispatch(request, *args, **kwargs)
        # The page may show the citizen's own data (preview): no cache keeps it.
        add_never_cache_headers(response)
        return response

    def _work_from_pushed(self, request: HttpRequest, request_uri: str) -> None:
        """The request is the pushed one: its stored parameters replace whatever the browser
        carries (query and form), and oauthlib is told it was pushed (`PUSHED_KEY`)."""
        assert self.pushed is not None
        params = self.pushed.params
        query = QueryDict(mutable=True)
        for key, value in params.items():
            query[key] = value
        request.GET = query  # type: ignore[assignment]
        request.META["QUERY_STRING"] = urlencode(params)
        request.META[PUSHED_KEY] = "1"
        if request.method == "POST":
            posted = request.POST.copy()
            for key in (*OAUTH_PARAMS, *TERMS_PARAMS):
                posted.pop(key, None)
                if params.get(key):
                    posted[key] = params[key]
            posted["request_uri"] = request_uri
            request.POST = posted  # type: ignore[assignment]

    def _request_uri_refused(self, reason: str) -> HttpResponse:
        # Expired, spent or unknown: there is no trusted redirect URI to send the error to.
        error = oauth_errors.CustomOAuth2Error(
            error="invalid_request_uri", description=f"The request_uri cannot be used: {reason}."
        )
        response: HttpResponse = self.render_to_response({"error": error, "title": _("Invalid request")}, status=400)
        return response

    # --- GET: the screen ----------------------------------------------------------------------

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # DOT's own GET would honour skip_authorization and approval_prompt=auto: not here.
        try:
            scopes, credentials = self.validate_authorization_request(request)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        application = Application.objects.get(client_id=credentials["client_id"])
        terms_params = TermsParamsForm(request.GET)
        try:
            interactive = self._interactive_request(application, scopes, credentials, terms_params)
        except OAuthToolkitError as error:
            return self.error_response(error, application)
        self.oauth2_data = {key: credentials.get(key) for key in OAUTH_PARAMS if key != "scope"}
        self.oauth2_data["scope"] = scopes
        self.oauth2_data.update(terms_params.cleaned_data)
        if self.pushed is not None:
            self.oauth2_data["request_uri"] = self.request_uri
        return self._screen(self.get_form(), application, interactive)

    def get_initial(self) -> dict[str, Any]:
        initial: dict[str, Any] = super().get_initial()
        initial.update(
            {
                key: self.oauth2_data.get(key)
                for key in (*TERMS_PARAMS, "dpop_jkt", "request_uri", "authorization_details")
            }
        )
        return initial

    # --- POST: preview, approve, reject -------------------------------------------------------

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if "preview" not in request.POST:
            return super().post(request, *args, **kwargs)
        form = self.get_form()
        if not form.is_valid():
            return self.form_invalid(form)
        try:
            application, interactive = self._posted_request(form)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        try:
            preview = interactive_preview(request=interactive, citizen=self.citizen, eidas_level=current_level(request))
        except GatewayError as error:
            return self._screen(form, application, interactive, decision_error=error, status=error.status)
        return self._screen(form, application, interactive, preview=preview)

    def form_invalid(self, form: forms.Form) -> HttpResponse:
        error = oauth_errors.InvalidRequestError(description="The authorization form is incomplete or altered.")
        return self.render_to_response({"error": error, "title": _("Invalid request")}, status=400)

    def form_valid(self, form: AllowForm) -> HttpResponse:
        # Validated before anything is written: an invalid request is answered as OAuth says,
        # and never leaves a consent behind.
        try:
            application, self.interactive = self._posted_request(form)
        except OAuthToolkitError as error:
            return self.error_response(error, application=None)
        self.dpop_jkt = form.cleaned_data.get("dpop_jkt") or None
        self.authorization_details = form.cleaned_data.get("authorization_details") or None
        if not form.cleaned_data.get("allow"):
            if self.pushed is not None and not pushed_request_spend(self.pushed):
                return self._request_uri_refused("request_uri_used")
            return super().form_valid(form)
        decision_error: GatewayError | None = None
        with transaction.atomic():
            # RFC 9126 §4: a pushed request buys one decision; spent with the code it gives, so a
            # refusal below leaves it usable.
            if self.pushed is not None and not pushed_request_spend(self.pushed):
                return self._request_uri_refused("request_uri_used")
            try:
                self.approved_consent = self.consent_for_approval(form)
            except GatewayError as error:
                decision_error = error
                transaction.set_rollback(True)
            else:
                response = super().form_valid(form)
                if not self.code_issued:
                    # The code was refused after all: the consent goes with it.
                    transaction.set_rollback(True)
        if decision_error is not None:
            return self._screen(
                form, application, self.interactive, decision_error=decision_error, status=decision_error.status
            )
        return response

    def consent_for_approval(self, form: AllowForm) -> Consent | None:
        """The consent the citizen approved on this page: requested by the client and approved by
        the citizen, active, with its audit events. The authorization code carries it, and the
        tokens the code buys are bound to it (consent.TokenBinding). Raises GatewayError (e.g.
        LoaInsufficient) when it cannot be given; nothing is stored then."""
        assert self.interactive is not None  # form_valid checked the request first
        return interactive_consent_approve(
            request=self.interactive,
            citizen=self.citizen,
            eidas_level=current_level(self.request),
            # PKCE makes every authorization request's parameters its own (a fresh code_challenge):
            # the same parameters again are the same screen submitted twice.
            authorization_request=self._authorize_url(form),
        )

    def create_authorization_response(
        self, request: HttpRequest, scopes: str, credentials: dict[str, Any], allow: bool
    ) -> tuple[str, dict[str, str], str | None, int]:
        if allow and self.approved_consent is not None:
            # oauthlib copies credentials onto its request; the validator stores it with the code.
            credentials["consent_id"] = self.approved_consent.pk
        if allow and self.dpop_jkt:
            credentials["dpop_jkt"] = self.dpop_jkt
        if allow and self.authorization_details:
            credentials["authorization_details"] = self.authorization_details
        uri, headers, body, status = super().create_authorization_response(request, scopes, credentials, allow)
        self.code_issued = bool(uri) and "code" in parse_qs(urlsplit(uri).query)
        return uri, headers, body, status

    def redirect(self, redirect_to: str, application: Application | None) -> HttpResponse:
        # DOT adds `iss` to successful responses only; errors (access_denied…) get it too.
        issuer = oauth2_settings.oauth2_authorization_server_issuer(self.request)
        response: HttpResponse = super().redirect(with_issuer(redirect_to, issuer), application)
        return response

    # --- The request and its terms ------------------------------------------------------------

    def _posted_request(self, form: AllowForm) -> tuple[Application, InteractiveRequest]:
        """The authorization request the form carries, validated again as oauthlib will."""
        params = {key: form.cleaned_data.get(key) for key in OAUTH_PARAMS}
        uri = (
            self.request.build_absolute_uri(self.request.path)
            + "?"
            + urlencode({key: value for key, value in params.items() if value})
        )
        server = self.get_oauthlib_core().server
        try:
            headers = {PUSHED_KEY: "1"} if self.pushed is not None else {}
            scopes, credentials = server.validate_authorization_request(
                uri, http_method="GET", body="", headers=headers
            )
        except oauth_errors.FatalClientError as error:
            raise FatalClientError(error=error) from None
        except oauth_errors.OAuth2Error as error:
            raise OAuthToolkitError(error=error) from None
        application = Application.objects.get(client_id=credentials["client_id"])
        return application, self._interactive_request(application, scopes, credentials, form)

    def _interactive_request(
        self, application: Application, scopes: list[str], credentials: Mapping[str, Any], terms_params: forms.Form
    ) -> InteractiveRequest:
        def refuse(error_class: type[oauth_errors.OAuth2Error], description: str) -> OAuthToolkitError:
            error = error_class(description=description, state=credentials.get("state"))
            return OAuthToolkitError(error=error, redirect_uri=credentials["redirect_uri"])

        slugs = [scope.removeprefix(ATTESTATION_SCOPE_PREFIX) for scope in scopes]
        if not scopes or any(not scope.startswith(ATTESTATION_SCOPE_PREFIX) for scope in scopes):
            # A citizen consents to attestations about them, not to an organisation's API rights.
            raise refuse(oauth_errors.InvalidScopeError, "The consent screen grants attestations scopes only.")
        api_client = api_client_for(application)
        if api_client is None or not terms_params.is_valid():
            raise refuse(oauth_errors.InvalidRequestError, "purpose, duration_days or max_uses is malformed.")
        terms = dict(terms_params.cleaned_data)
        details = credentials.get("authorization_details")
        if details:
            # The details' terms win over the plain parameters (gateway.oauth.details).
            terms.update(details_terms(json.loads(details)))
        try:
            return interactive_request_build(
                consumer=api_client.organisation,
                client=application,
                attestation_types=slugs,
                purpose_code=terms.get("purpose") or "",
                duration_days=terms.get("duration_days"),
                max_uses=terms.get("max_uses"),
                fields=terms.get("fields"),
            )
        except HabilitationMissing:
            raise refuse(oauth_errors.InvalidScopeError, "No approved habilitation covers this scope.") from None
        except ValidationError as error:
            fields = sorted(error.extra.get("errors", {}))
            if details:
                oauth_refusal_record(
                    reason="details_" + "_".join(fields) + "_refused",
                    endpoint=self.request.path,
                    client_id=application.client_id,
                )
                raise refuse(
                    InvalidAuthorizationDetailsError, "Invalid authorization details: " + ", ".join(fields)
                ) from None
            raise refuse(oauth_errors.InvalidRequestError, "Invalid consent terms: " + ", ".join(fields)) from None

    def _authorize_url(self, form: AllowForm) -> str:
        if self.pushed is not None:
            return (
                self.request.path
                + "?"
                + urlencode({"client_id": self.pushed.client_id, "request_uri": self.request_uri})
            )
        values = form.cleaned_data if form.is_bound else form.initial
        params = {key: values.get(key) for key in (*OAUTH_PARAMS, *TERMS_PARAMS)}
        return self.request.path + "?" + urlencode({key: value for key, value in params.items() if value})

    def _screen(
        self,
        form: AllowForm,
        application: Application,
        interactive: InteractiveRequest,
        *,
        preview: list[PreviewItem] | None = None,
        decision_error: GatewayError | None = None,
        status: int = 200,
    ) -> HttpResponse:
        context = {
            "title": _("Request to access your data"),
            "form": form,
            "application": application,
            **decision_context(
                self.request, interactive.terms(), preview=preview, relogin_next=self._authorize_url(form)
            ),
            "decision_error": decision_error,
        }
        response: HttpResponse = self.render_to_response(context, status=status)
        return response


class AuthorizationServerMetadataView(OAuthServerMetadataView):
    """RFC 8414 metadata, completed with what DOT only publishes when OpenID Connect is on."""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> JsonResponse:
        response = super().get(request, *args, **kwargs)
        data = json.loads(response.content)
        data["code_challenge_methods_supported"] = ["S256"]
        data["authorization_response_iss_parameter_supported"] = True
        data["jwks_uri"] = request.build_absolute_uri(reverse("jwks"))
        data["response_modes_supported"] = ["query"]
        # Per client (ApiClient.require_par); the server as a whole also takes plain requests.
        data["require_pushed_authorization_requests"] = False
        data["pushed_authorization_request_endpoint"] = request.build_absolute_uri(reverse("oauth2_provider:par"))
        for endpoint in ("token", "revocation", "introspection"):
            data[f"{endpoint}_endpoint_auth_signing_alg_values_supported"] = list(CLIENT_ALGORITHMS)
        data["dpop_signing_alg_values_supported"] = list(CLIENT_ALGORITHMS)
        data["authorization_details_types_supported"] = [DETAIL_TYPE]
        # RFC 9701: introspection answered as a JWT the gateway signs, on request.
        data["introspection_signing_alg_values_supported"] = [JWS_ALGORITHM]
        data.pop("client_id_metadata_document_supported", None)
        metadata = JsonResponse(data)
        metadata["Access-Control-Allow-Origin"] = "*"
        metadata["Cache-Control"] = "public, max-age=300"
        return metadata
