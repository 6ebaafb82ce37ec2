from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _
from dsfr.forms import DsfrBaseForm

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
