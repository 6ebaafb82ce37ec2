from __future__ import annotations

from collections.abc import Collection
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from dsfr.forms import DsfrBaseForm
from dsfr.utils import dsfr_input_class_attr

from consent.models import Citizen, Mandate
from consent.services.citizens import demo_people
from providers.models import EidasLevel


class DemoLoginForm(DsfrBaseForm):
    citizen = forms.TypedChoiceField(coerce=int, widget=forms.RadioSelect, label=_("Person"))
    eidas_level = forms.ChoiceField(
        choices=EidasLevel.choices,
        initial=EidasLevel.SUBSTANTIAL,
        widget=forms.RadioSelect,
        label=_("eIDAS level of the login"),
    )
    next = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.people = demo_people()
        self.fields["citizen"].choices = [
            (position, f"{' '.join(p.prenoms)} {p.nom_naissance} ({p.date_naissance:%d/%m/%Y})")
            for position, p in enumerate(self.people)
        ]


class NotificationPreferencesForm(DsfrBaseForm):
    notify = forms.ChoiceField(
        choices=Citizen.Notify.choices, widget=forms.RadioSelect, label=_("Tell me when my data is obtained")
    )
    email = forms.EmailField(
        required=False,
        max_length=254,
        label=_("E-mail address"),
        help_text=_("Given by your identity provider when you logged in; you may use another one."),
    )

    def __init__(self, *args: Any, known_address: bool = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not known_address:
            self.fields["email"].help_text = _(
                "Your identity provider gave none: give an address to be told by e-mail."
            )
            # DsfrBaseForm made the bound fields already, copying the help text: make it again.
            self._bound_fields_cache.pop("email", None)
            dsfr_input_class_attr(self["email"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        # An address refused as such already says what is wrong with it.
        if data.get("notify") != Citizen.Notify.NEVER and not data.get("email") and "email" not in self.errors:
            self.add_error("email", _("An e-mail address is needed to send you e-mails."))
        return data


class ObjectionForm(DsfrBaseForm):
    text = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 5}),
        label=_("What do you not recognise?"),
        help_text=_(
            "For example: you never asked this administration for anything, or not at that date. "
            "The auditors and the administration's data protection officer will read it."
        ),
    )


class OneTimeCodeForm(DsfrBaseForm):
    code = forms.CharField(
        max_length=40,
        label=_("Code"),
        help_text=_("Twelve letters and digits, as the administration gave them to you, for example K7P2-XQ9M-4TRD."),
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "autocapitalize": "characters", "spellcheck": "false"}
        ),
    )


class CompanyForm(DsfrBaseForm):
    siret = forms.CharField(
        label=_("SIRET of the company"),
        help_text=_("14 digits, on the company's Kbis extract or its invoices."),
        max_length=20,
    )

    def clean_siret(self) -> str:
        return "".join(str(self.cleaned_data["siret"]).split())


class DelegationForm(DsfrBaseForm):
    attestation_types = forms.MultipleChoiceField(
        label=_("Attestations covered"), widget=forms.CheckboxSelectMultiple, choices=()
    )
    actions = forms.MultipleChoiceField(
        label=_("What the person may do"), widget=forms.CheckboxSelectMultiple, choices=Mandate.Action.choices
    )
    valid_until = forms.DateField(label=_("Last day of the delegation"), widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(
        self, *args: Any, types: list[tuple[str, str]], actions: Collection[str] | None = None, **kwargs: Any
    ) -> None:
        """`types` and `actions` (every action when None): what the person delegating holds."""
        super().__init__(*args, **kwargs)
        field = self.fields["attestation_types"]
        assert isinstance(field, forms.MultipleChoiceField)
        field.choices = types
        if actions is not None:
            offered = self.fields["actions"]
            assert isinstance(offered, forms.MultipleChoiceField)
            offered.choices = [(value, label) for value, label in Mandate.Action.choices if value in actions]
