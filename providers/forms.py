"""The portal's forms: checked on the server, with messages in the page's language. The services
check again (they are the rule); the forms say what is wrong next to the field."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError as DjangoValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from dsfr.forms import DsfrBaseForm

from core.templatetags.localized_fields import localized, localized_key
from providers import rules
from providers.models import LOOPBACK_HOSTS, AgentRole, AttestationType, Habilitation, Organisation, url_origin
from providers.services.terms import MAX_EXPECTED_VOLUME, MAX_RETENTION_DAYS, MAX_TEXT_LENGTH

DATE_INPUT = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")


def _origins(text: str, *, demo_mode: bool) -> list[str]:
    origins: list[str] = []
    for line in text.splitlines():
        origin = line.strip()
        if not origin:
            continue
        canonical = url_origin(origin)
        if canonical is None:
            raise DjangoValidationError(
                _("“%(origin)s” is not an address such as https://demarches.example.fr.") % {"origin": origin}
            )
        host = canonical.split("://", 1)[1].rsplit(":", 1)[0].strip("[]")
        if not canonical.startswith("https://") and not (demo_mode and host in LOOPBACK_HOSTS):
            raise DjangoValidationError(_("“%(origin)s” must start with https://.") % {"origin": origin})
        if canonical != origin:
            raise DjangoValidationError(
                _("“%(origin)s” is not an origin: write %(canonical)s (scheme, host and port, no path).")
                % {"origin": origin, "canonical": canonical}
            )
        if origin in origins:
            raise DjangoValidationError(_("Write each origin once."))
        origins.append(origin)
    return origins


class HabilitationRequestForm(DsfrBaseForm):
    """The terms of a request for one attestation type: only the fields and purposes it offers."""

    # The services' names of the terms where they differ from the form's.
    service_names = {"fields": "data_fields"}

    # Not `fields`: a form's `fields` is its dict of fields.
    data_fields = forms.MultipleChoiceField(
        label=gettext_lazy("Fields wanted"),
        help_text=gettext_lazy("Only what the procedure needs (data minimisation)."),
        widget=forms.CheckboxSelectMultiple,
    )
    purpose_code = forms.ChoiceField(label=gettext_lazy("Purpose"), widget=forms.RadioSelect)
    purpose_text = forms.CharField(
        label=gettext_lazy("The procedure, in plain words"),
        help_text=gettext_lazy("What the data will be used for, as the citizen will read it."),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=MAX_TEXT_LENGTH,
    )
    legal_basis = forms.CharField(
        label=gettext_lazy("Legal basis"), widget=forms.Textarea(attrs={"rows": 3}), max_length=MAX_TEXT_LENGTH
    )
    legal_basis_reference = forms.CharField(
        label=gettext_lazy("Reference of the legal basis"),
        help_text=gettext_lazy("The text's reference or its address on Légifrance."),
        max_length=300,
        required=False,
    )
    retention_days = forms.IntegerField(
        label=gettext_lazy("Retention period (days)"), min_value=1, max_value=MAX_RETENTION_DAYS
    )
    dpo_name = forms.CharField(label=gettext_lazy("Data protection officer's name"), max_length=200)
    dpo_email = forms.EmailField(label=gettext_lazy("Data protection officer's email address"))
    expected_volume = forms.IntegerField(
        label=gettext_lazy("Expected volume (exchanges a month)"), min_value=1, max_value=MAX_EXPECTED_VOLUME
    )
    return_url_origins = forms.CharField(
        label=gettext_lazy("Origins of your return addresses and redirect URIs"),
        help_text=gettext_lazy("One per line, such as https://demarches.example.fr."),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
    )

    def __init__(self, *args: Any, attestation_type: AttestationType, complete: bool, demo_mode: bool, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.demo_mode = demo_mode
        self.fields["data_fields"].choices = [
            (field.name, localized(field, "label")) for field in attestation_type.fields.all()
        ]
        self.fields["purpose_code"].choices = [
            (purpose["code"], localized_key(purpose, "label")) for purpose in attestation_type.purposes
        ]
        if not complete:
            for field in self.fields.values():
                field.required = False

    @classmethod
    def initial_from(cls, habilitation: Habilitation) -> dict[str, Any]:
        initial = {name: getattr(habilitation, name) for name in cls.base_fields if name != "data_fields"}
        initial["data_fields"] = habilitation.fields
        initial["return_url_origins"] = "\n".join(habilitation.return_url_origins)
        return initial

    @classmethod
    def initial_for_type(cls, attestation_type: AttestationType, *, dpo_email: str) -> dict[str, Any]:
        return {
            "legal_basis": attestation_type.legal_basis_text,
            "legal_basis_reference": attestation_type.legal_basis_reference,
            "dpo_email": dpo_email,
        }

    def clean_return_url_origins(self) -> list[str]:
        return _origins(self.cleaned_data.get("return_url_origins") or "", demo_mode=self.demo_mode)

    def terms(self) -> dict[str, Any]:
        """The cleaned values as the services take them."""
        data = self.cleaned_data
        return {
            "fields": list(data.get("data_fields") or []),
            "purpose_code": data.get("purpose_code") or "",
            "purpose_text": data.get("purpose_text") or "",
            "legal_basis": data.get("legal_basis") or "",
            "legal_basis_reference": data.get("legal_basis_reference") or "",
            "retention_days": data.get("retention_days"),
            "dpo_name": data.get("dpo_name") or "",
            "dpo_email": data.get("dpo_email") or "",
            "expected_volume": data.get("expected_volume"),
            "return_url_origins": data.get("return_url_origins") or [],
        }


def _not_past(day: dt.date | None) -> None:
    if day is not None and day < timezone.localdate():
        raise DjangoValidationError(_("This date is in the past."))


class ReviewForm(DsfrBaseForm):
    APPROVE, CHANGES, REFUSE = "approve", "changes", "refuse"

    decision = forms.ChoiceField(
        label=gettext_lazy("Decision"),
        widget=forms.RadioSelect,
        choices=[
            (APPROVE, gettext_lazy("Approve")),
            (CHANGES, gettext_lazy("Ask for changes")),
            (REFUSE, gettext_lazy("Refuse")),
        ],
    )
    valid_until = forms.DateField(
        label=gettext_lazy("Valid until (if approved)"), widget=DATE_INPUT, required=False, validators=[_not_past]
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason (if changes are asked for or the request is refused)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=MAX_TEXT_LENGTH,
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        decision = data.get("decision")
        if decision == self.APPROVE and not data.get("valid_until") and "valid_until" not in self.errors:
            self.add_error("valid_until", _("Give the last day of validity."))
        if decision in (self.CHANGES, self.REFUSE) and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Give the reason: the requester reads it."))
        return data


class ReasonForm(DsfrBaseForm):
    # Prefixed: the page may hold several forms asking for a reason.
    prefix = "revoke"
    reason = forms.CharField(
        label=gettext_lazy("Reason"), widget=forms.Textarea(attrs={"rows": 3}), max_length=MAX_TEXT_LENGTH
    )


class ExtensionRequestForm(DsfrBaseForm):
    prefix = "extension"
    until = forms.DateField(label=gettext_lazy("New end of validity"), widget=DATE_INPUT, validators=[_not_past])
    reason = forms.CharField(
        label=gettext_lazy("Why the habilitation must go on"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=MAX_TEXT_LENGTH,
    )

    def __init__(self, *args: Any, valid_until: dt.date | None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.valid_until = valid_until

    def clean_until(self) -> dt.date:
        until: dt.date = self.cleaned_data["until"]
        if self.valid_until is not None and until <= self.valid_until:
            raise DjangoValidationError(_("The new end must come after the current one."))
        return until


class ExtensionDecisionForm(DsfrBaseForm):
    prefix = "extension_decision"
    GRANT, REFUSE = "grant", "refuse"

    decision = forms.ChoiceField(
        label=gettext_lazy("Decision on the extension"),
        widget=forms.RadioSelect,
        choices=[(GRANT, gettext_lazy("Extend")), (REFUSE, gettext_lazy("Decline"))],
    )
    reason = forms.CharField(
        label=gettext_lazy("Reason (if declined)"),
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=MAX_TEXT_LENGTH,
        required=False,
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("decision") == self.REFUSE and not (data.get("reason") or "").strip():
            self.add_error("reason", _("Give the reason: the requester reads it."))
        return data


class InvitationForm(DsfrBaseForm):
    email = forms.EmailField(label=gettext_lazy("Professional email address"))
    roles = forms.MultipleChoiceField(
        label=gettext_lazy("Roles"), widget=forms.CheckboxSelectMultiple, choices=AgentRole.Role.choices
    )

    def __init__(self, *args: Any, organisation: Organisation, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Only the roles the organisation's kind allows (no auditors outside a supervisory body).
        allowed = rules.roles_allowed(organisation_kind=organisation.kind)
        roles = cast(forms.MultipleChoiceField, self.fields["roles"])
        roles.choices = [(value, label) for value, label in AgentRole.Role.choices if value in allowed]


class RoleForm(DsfrBaseForm):
    GRANT, WITHDRAW = "grant", "withdraw"

    role = forms.ChoiceField(choices=AgentRole.Role.choices)
    action = forms.ChoiceField(choices=[(GRANT, GRANT), (WITHDRAW, WITHDRAW)])
