"""The portal's forms for OAuth clients: checked on the server, messages in the page's language."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from dsfr.forms import DsfrBaseForm
from oauth2_provider.models import Application

from gateway.oauth.validators import redirect_uri_problem
from providers.models import validate_webhook_url


def _redirect_uris(text: str) -> list[str]:
    uris: list[str] = []
    for line in text.splitlines():
        uri = line.strip()
        if not uri:
            continue
        if redirect_uri_problem(uri) is not None:
            raise DjangoValidationError(
                _("“%(uri)s” is not accepted: an absolute https address, without fragment or user name.") % {"uri": uri}
            )
        if uri in uris:
            raise DjangoValidationError(_("Write each address once."))
        uris.append(uri)
    return uris


class RedirectUrisForm(DsfrBaseForm):
    # The services' names where they differ from the form's.
    service_names = {"redirect_uri": "redirect_uris"}
    redirect_uris = forms.CharField(
        label=gettext_lazy("Redirect URIs"),
        help_text=gettext_lazy("Only for a client that sends citizens to the gateway: one per line, https."),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )

    def clean_redirect_uris(self) -> list[str]:
        return _redirect_uris(self.cleaned_data.get("redirect_uris") or "")


class OptionalJSONField(forms.JSONField):
    """Django's JSONField shows an empty value as the JSON `null`: an empty box reads better."""

    def prepare_value(self, value: Any) -> str:
        return "" if value is None else str(super().prepare_value(value))


class ClientCreateForm(RedirectUrisForm):
    name = forms.CharField(label=gettext_lazy("Name of the client"), max_length=200)
    grant = forms.ChoiceField(
        label=gettext_lazy("How the software obtains its tokens"),
        widget=forms.RadioSelect,
        choices=[
            (Application.GRANT_CLIENT_CREDENTIALS, gettext_lazy("Server to server (client credentials)")),
            (Application.GRANT_AUTHORIZATION_CODE, gettext_lazy("With the citizen's browser (authorization code)")),
        ],
        initial=Application.GRANT_CLIENT_CREDENTIALS,
    )
    authentication = forms.ChoiceField(
        label=gettext_lazy("How the software proves who it is"),
        widget=forms.RadioSelect,
        choices=[
            (
                "private_key_jwt",
                gettext_lazy("With its own key pair: the gateway holds only the public keys (recommended)"),
            ),
            ("client_secret_basic", gettext_lazy("With a secret that the gateway shows once")),
        ],
        required=False,
    )
    jwks = OptionalJSONField(
        label=gettext_lazy("Public keys (JWK set, in JSON)"),
        help_text=gettext_lazy("Only with a key pair: the public keys, never the private ones."),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        error_messages={
            "invalid": gettext_lazy("This is not valid JSON: paste the key set as your software wrote it.")
        },
    )
    jwks_uri = forms.URLField(
        label=gettext_lazy("Or the https address where the software publishes them (jwks_uri)"),
        required=False,
        assume_scheme="https",
    )
    field_order = ["name", "grant", "authentication", "jwks", "jwks_uri", "redirect_uris"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["authentication"].initial = settings.OAUTH_NEW_CLIENT_AUTH_METHOD

    def clean_authentication(self) -> str:
        return str(self.cleaned_data.get("authentication") or settings.OAUTH_NEW_CLIENT_AUTH_METHOD)

    def clean_jwks(self) -> dict[str, Any] | None:
        value = self.cleaned_data.get("jwks")
        if value is None:
            return None
        if not isinstance(value, dict):
            raise DjangoValidationError(_("A key set is a JSON object with a “keys” list."))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        keyed = data.get("authentication") == "private_key_jwt"
        if keyed and not data.get("jwks") and not data.get("jwks_uri") and "jwks" not in self.errors:
            self.add_error("jwks", _("Give the public keys, here or by their address."))
        uris, grant = data.get("redirect_uris"), data.get("grant")
        if grant == Application.GRANT_AUTHORIZATION_CODE and not uris and "redirect_uris" not in self.errors:
            self.add_error("redirect_uris", _("A client using the citizen's browser needs a redirect URI."))
        if grant == Application.GRANT_CLIENT_CREDENTIALS and uris:
            self.add_error("redirect_uris", _("A server-to-server client has no redirect URI."))
        return data


class RotateForm(DsfrBaseForm):
    prefix = "rotate"
    OVERLAPS = {
        "0": dt.timedelta(0),
        "1h": dt.timedelta(hours=1),
        "24h": dt.timedelta(hours=24),
        "7d": dt.timedelta(days=7),
    }
    overlap = forms.ChoiceField(
        label=gettext_lazy("How long the current secret keeps working"),
        widget=forms.RadioSelect,
        choices=[
            ("0", gettext_lazy("Not at all")),
            ("1h", gettext_lazy("One hour")),
            ("24h", gettext_lazy("24 hours")),
            ("7d", gettext_lazy("Seven days")),
        ],
        initial="24h",
    )

    def overlap_value(self) -> dt.timedelta:
        return self.OVERLAPS[self.cleaned_data["overlap"]]


class WebhookEndpointForm(DsfrBaseForm):
    prefix = "endpoint"
    service_names = {"webhook_url": "url"}
    url = forms.CharField(
        label=gettext_lazy("Address that receives the webhooks"),
        help_text=gettext_lazy("https only; leave empty to receive none."),
        max_length=500,
        required=False,
    )

    def clean_url(self) -> str:
        url = str(self.cleaned_data.get("url") or "").strip()
        if url:
            try:
                validate_webhook_url(url)
            except DjangoValidationError:
                raise DjangoValidationError(
                    _("Give an address that starts with https://, names a server and holds no user name or password.")
                ) from None
        return url


class ExchangeFilterForm(DsfrBaseForm):
    attestation_type = forms.ChoiceField(label=gettext_lazy("Attestation"), required=False)
    status = forms.ChoiceField(
        label=gettext_lazy("Outcome"),
        required=False,
        choices=[
            ("", gettext_lazy("All")),
            ("succeeded", gettext_lazy("Succeeded")),
            ("denied", gettext_lazy("Denied")),
            ("failed", gettext_lazy("Failed")),
            ("pending", gettext_lazy("In progress")),
        ],
    )
    since = forms.DateField(label=gettext_lazy("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(
        label=gettext_lazy("To (included)"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args: Any, type_choices: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["attestation_type"].choices = [("", _("All")), *type_choices]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", _("The end comes before the start."))
        return data
