"""Values as people read them: a consent's state with its dates, and attestation values (dates in
words, months by name, amounts in euros, codes by their names, INSEE place codes by the commune's
or country's name, lists of people as small cards; never JSON).

For attestation values, everything comes from the field's JSON Schema and its annotations
(`x-display`, `x-value-labels`, `x-label`, written by the catalogue): a type published later reads
as well as the demo ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.dates import MONTHS
from django.utils.formats import date_format, number_format
from django.utils.text import capfirst
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from audit.selectors import Accesses
from consent.models import Citizen, Consent
from core.places import place_name

# One card's lines: (label, text).
Lines = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Shown:
    """A value as a person reads it: one line of text, or cards (one per person or thing)."""

    text: str = ""
    cards: tuple[Lines, ...] = ()


def localized_label(labels: Mapping[str, str] | None, fallback: str) -> str:
    """The active language's label in a {"fr": …, "en": …} annotation, else the default's."""
    if not labels:
        return fallback
    default = settings.LANGUAGE_CODE.split("-")[0]
    active = (get_language() or default).split("-")[0]
    return labels.get(active) or labels.get(default) or fallback


def _name_of(key: str, schema: Mapping[str, Any]) -> str:
    # A schema without labels still reads as words, not as a snake_case key.
    return localized_label(schema.get("x-label"), capfirst(key.replace("_", " ")))


def _kind(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type", "")
    if isinstance(kind, list):
        kind = next((member for member in kind if member != "null"), "")
    return str(kind)


def _date(value: str) -> str:
    try:
        return date_format(dt.date.fromisoformat(value), "DATE_FORMAT")
    except ValueError:
        return value


def _money(value: int | float) -> str:
    amount = number_format(value, decimal_pos=0 if isinstance(value, int) else 2, force_grouping=True)
    return _("%(amount)s €") % {"amount": amount}


def _number(value: int | float) -> str:
    if isinstance(value, float) and not value.is_integer():
        return number_format(value, decimal_pos=len(repr(value).split(".")[1]))
    return str(int(value))


def text_of(value: Any, schema: Mapping[str, Any]) -> str:
    """One scalar (or a small structure, flattened into a sentence) as words."""
    if value is None:
        return _("Not provided")
    labels = schema.get("x-value-labels") or {}
    if str(value) in labels:
        return localized_label(labels[str(value)], str(value))
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    display = schema.get("x-display")
    if isinstance(value, int | float):
        if display == "month" and isinstance(value, int) and 1 <= value <= 12:
            return capfirst(str(MONTHS[value]))
        if display == "money":
            return _money(value)
        return _number(value)
    if isinstance(value, str):
        if display == "place":
            return place_shown(value)
        return _date(value) if schema.get("format") == "date" else value
    if isinstance(value, Mapping):
        return "; ".join(
            _("%(label)s: %(text)s") % {"label": label, "text": text} for label, text in lines_of(value, schema)
        )
    if isinstance(value, list):
        return sentence([text_of(member, schema.get("items") or {}) for member in value])
    return str(value)


def place_shown(code: str) -> str:
    """An INSEE code of a commune or a country as its name; never the code, even when the table
    does not know it."""
    return place_name(code) or _("A place whose name the gateway does not know")


def identity_lines(citizen: Citizen) -> Lines:
    """The pivot identity the gateway holds, as labelled lines (none once erased)."""
    if not citizen.has_identity:
        return ()
    born = date_format(citizen.date_naissance, "DATE_FORMAT") if citizen.date_naissance else _("Not provided")
    sexes = dict(Citizen.Sex.choices)
    return (
        (_("Birth name"), str(citizen.nom_naissance)),
        (_("Given names"), str(citizen.prenoms or "")),
        (_("Date of birth"), born),
        (_("Place of birth"), place_shown(str(citizen.code_cog_lieu_naissance or ""))),
        (_("Sex"), str(sexes.get(str(citizen.sexe), _("Not provided")))),
    )


def sentence(parts: list[str]) -> str:
    """["a", "b", "c"] → "a, b and c" (in the active language)."""
    if not parts:
        return _("None")
    if len(parts) == 1:
        return parts[0]
    return _("%(first)s and %(last)s") % {"first": ", ".join(parts[:-1]), "last": parts[-1]}


def lines_of(value: Mapping[str, Any], schema: Mapping[str, Any]) -> Lines:
    """An object's members as labelled lines, in the schema's order; codes shown beside their own
    label (`x-display: hidden`) are left out."""
    properties: Mapping[str, Any] = schema.get("properties") or {}
    keys = [key for key in properties if key in value] + [key for key in value if key not in properties]
    return tuple(
        (_name_of(key, properties.get(key, {})), text_of(value[key], properties.get(key, {})))
        for key in keys
        if properties.get(key, {}).get("x-display") != "hidden"
    )


def value_shown(value: Any, schema: Mapping[str, Any]) -> Shown:
    """A field's value: a list of objects (children, periods) becomes cards, the rest one text."""
    if isinstance(value, list) and value and all(isinstance(member, Mapping) for member in value):
        items = schema.get("items") or {}
        return Shown(cards=tuple(lines_of(member, items) for member in value))
    if isinstance(value, list) and not value:
        return Shown(text=_("None"))
    if isinstance(value, Mapping) and _kind(schema) == "object":
        lines = lines_of(value, schema)
        if len(lines) == 1:
            return Shown(text=lines[0][1])
        return Shown(cards=(lines,))
    return Shown(text=text_of(value, schema))


def _day(moment: dt.datetime | None) -> str:
    return date_format(timezone.localtime(moment), "DATE_FORMAT") if moment else ""


def status_sentence(consent: Consent) -> str:
    """Where a consent stands, with its dates, in one sentence: given on, refused on, withdrawn on
    by you or ended by the administration on, expires on."""
    Status = Consent.Status
    consumer = consent.consumer.name
    until = _day(consent.valid_until)
    if consent.status == Status.PENDING and consent.renews is not None:
        return _(
            "A renewal of your consent that ends on %(ends)s: waiting for your decision; the request "
            "expires on %(expires)s."
        ) % {"ends": _day(consent.renews.valid_until), "expires": _day(consent.request_expires_at)}
    if consent.status == Status.PENDING:
        return _("Waiting for your decision since %(asked)s; the request expires on %(expires)s.") % {
            "asked": _day(consent.created_at),
            "expires": _day(consent.request_expires_at),
        }
    if consent.status == Status.ACTIVE:
        return _("Given on %(given)s; expires on %(until)s.") % {"given": _day(consent.decided_at), "until": until}
    if consent.status == Status.PAUSED:
        return _("Paused by you on %(paused)s; expires on %(until)s.") % {
            "paused": _day(consent.updated_at),
            "until": until,
        }
    if consent.status == Status.REJECTED:
        return _("Refused by you on %(refused)s.") % {"refused": _day(consent.decided_at)}
    if consent.status == Status.REVOKED:
        if consent.status_reason == "citizen":
            return _("Withdrawn by you on %(ended)s.") % {"ended": _day(consent.updated_at)}
        if consent.status_reason == "consumer":
            return _("Ended by %(consumer)s on %(ended)s.") % {"consumer": consumer, "ended": _day(consent.updated_at)}
        if consent.status_reason == "renewed":
            return _("Replaced on %(ended)s by its renewal, which you find in force.") % {
                "ended": _day(consent.updated_at)
            }
        if consent.status_reason == "renewed_consent_ended":
            return _("Cancelled on %(ended)s: the consent it would have renewed had ended.") % {
                "ended": _day(consent.updated_at)
            }
        return _("Ended on %(ended)s.") % {"ended": _day(consent.updated_at)}
    if consent.status_reason == "request_expired":
        return _("The request expired on %(ended)s without a decision.") % {"ended": _day(consent.request_expires_at)}
    return _("Expired on %(ended)s.") % {"ended": _day(consent.valid_until or consent.updated_at)}


def accesses_sentence(accesses: Accesses | None) -> str:
    """How often the administration obtained the data, and when last."""
    if accesses is None or not accesses.count:
        return _("Your data has not been obtained under this consent.")
    return ngettext(
        "Obtained once, on %(last)s.",
        "Obtained %(count)s times, last on %(last)s.",
        accesses.count,
    ) % {"count": accesses.count, "last": _day(accesses.last)}
