"""The citizen's history: every event of the trail about them, in plain words, with proofs.

The trail stores identifiers only (SIRETs, type slugs, field names, purpose codes); this page
turns one page of it into names and labels with a fixed number of queries, whatever its length:
one for the organisations, two for the types and their fields.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import Prefetch
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.functional import Promise
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from audit.models import ActorKind, EventType, Objection
from audit.selectors import HistoryRow, history_rows_for_citizen, objections_for_citizen, proof_bundle
from consent.auth import citizen_required, required_citizen
from consent.models import Citizen, Ground, Mandate, RegisterCheck
from consent.views import not_found_as_404
from core.replicas import replica_view
from core.templatetags.localized_fields import localized, localized_key
from providers.models import AttestationField, AttestationType, Organisation

PAGE_SIZE = 50

# What happened, as the citizen reads it. {consumer} is the asking administration's name, {what}
# the data ("your family quotient"). Keys: (type, actor kind) first, then the type alone.
SENTENCES: dict[tuple[str, str], Promise] = {
    (EventType.CONSENT_REQUESTED, ""): _("{consumer} asked you for access to {what}"),
    (EventType.CONSENT_APPROVED, ""): _("You agreed that {consumer} may obtain {what}"),
    (EventType.CONSENT_REJECTED, ""): _("You refused to let {consumer} obtain {what}"),
    (EventType.CONSENT_PAUSED, ""): _("You paused the consent given to {consumer}"),
    (EventType.CONSENT_RESUMED, ""): _("You resumed the consent given to {consumer}"),
    (EventType.CONSENT_REVOKED, "reason:renewed"): _("The consent given to {consumer} was replaced by its renewal"),
    (EventType.CONSENT_REVOKED, ActorKind.CITIZEN): _("You withdrew the consent given to {consumer}"),
    (EventType.CONSENT_REVOKED, ActorKind.CONSUMER): _("{consumer} ended the consent you had given it"),
    (EventType.CONSENT_REVOKED, ""): _("The consent given to {consumer} was withdrawn"),
    (EventType.CONSENT_EXPIRED, ""): _("The consent given to {consumer} expired"),
    (EventType.CONSENT_BOUND, ""): _("The request of {consumer} for {what} became yours: only you may decide it"),
    (EventType.EXCHANGE_SUCCEEDED, ""): _("{consumer} obtained {what}"),
    (EventType.EXCHANGE_DENIED, ""): _("The gateway refused {consumer} access to {what}"),
    (EventType.EXCHANGE_FAILED, ""): _("{consumer} asked for {what}, but the provider could not answer"),
    (EventType.EXCHANGE_COLLECTED, ""): _("{consumer} collected {what}, prepared for it earlier"),
    (EventType.CITIZEN_PREVIEWED, ""): _("You previewed {what}, requested by {consumer}"),
    (EventType.CITIZEN_IDENTITY_ERASED, ""): _(
        "The gateway erased your identity, which no session or consent of yours needed any longer"
    ),
    (EventType.CITIZEN_NOTIFICATIONS_SET, ""): _("You chose how you are told of accesses to your data"),
    (EventType.TOKEN_ISSUED, ""): _("{consumer} received an access right"),
    (EventType.TOKEN_REVOKED, ""): _("{consumer}'s access was cut off"),
    (EventType.AUDITOR_SEARCHED, ""): _("An auditor searched the trail with your reference (justification recorded)"),
    (EventType.AUDITOR_EXPORTED, ""): _("An auditor exported the trail with your reference (justification recorded)"),
    (EventType.OBJECTION_OPENED, ""): _("You reported an access by {consumer} that you do not recognise"),
    (EventType.OBJECTION_ANSWERED, ""): _("The auditors answered your report about {consumer}"),
    (EventType.OBJECTION_CLOSED, ""): _("The auditors closed your report about {consumer}"),
    (EventType.MANDATE_GRANTED, ""): _("A legal mandate to act for you was recorded"),
    (EventType.MANDATE_REVOKED, ""): _("A legal mandate to act for you was withdrawn"),
    (EventType.MANDATE_LAPSED, ""): _("A legal mandate to act for you ended"),
}
# The same events in a company's history, read by those who act for it (and the events of
# representation: the register's answers, mandates).
COMPANY_SENTENCES: dict[tuple[str, str], Promise] = {
    (EventType.CONSENT_REQUESTED, ""): _("{consumer} asked the company for access to {what}"),
    (EventType.CONSENT_APPROVED, ""): _("Consent given for the company: {consumer} may obtain {what}"),
    (EventType.CONSENT_REJECTED, ""): _("Refused for the company: {consumer} will not obtain {what}"),
    (EventType.CONSENT_REVOKED, "reason:renewed"): _("The consent given to {consumer} was replaced by its renewal"),
    (EventType.CONSENT_REVOKED, ActorKind.CONSUMER): _("{consumer} ended the consent the company had given it"),
    (EventType.CONSENT_REVOKED, ""): _("The consent given to {consumer} was withdrawn"),
    (EventType.CONSENT_EXPIRED, ""): _("The consent given to {consumer} expired"),
    (EventType.EXCHANGE_SUCCEEDED, ""): _("{consumer} obtained {what}"),
    (EventType.EXCHANGE_DENIED, ""): _("The gateway refused {consumer} access to {what}"),
    (EventType.EXCHANGE_FAILED, ""): _("{consumer} asked for {what}, but the provider could not answer"),
    (EventType.EXCHANGE_COLLECTED, ""): _("{consumer} collected {what}, prepared for it earlier"),
    (EventType.CITIZEN_PREVIEWED, ""): _("Someone acting for the company previewed {what}"),
    (EventType.TOKEN_REVOKED, ""): _("{consumer}'s access was cut off"),
    (EventType.REPRESENTATION_CHECKED, ""): _("The companies register was asked who represents the company"),
    (EventType.MANDATE_GRANTED, ""): _("A delegation to act for the company was granted"),
    (EventType.MANDATE_ACCEPTED, ""): _("A delegation to act for the company was accepted"),
    (EventType.MANDATE_REVOKED, ""): _("A delegation to act for the company was withdrawn"),
    (EventType.MANDATE_LAPSED, ""): _("A delegation to act for the company lapsed"),
}
# The same events in the history of a person someone acts for under a legal mandate.
PRINCIPAL_SENTENCES: dict[tuple[str, str], Promise] = {
    (EventType.CONSENT_REQUESTED, ""): _("{consumer} asked for access to {what}"),
    (EventType.CONSENT_APPROVED, ""): _("Consent given: {consumer} may obtain {what}"),
    (EventType.CONSENT_REJECTED, ""): _("Refused: {consumer} will not obtain {what}"),
    (EventType.CONSENT_REVOKED, "reason:renewed"): _("The consent given to {consumer} was replaced by its renewal"),
    (EventType.CONSENT_REVOKED, ""): _("The consent given to {consumer} was withdrawn"),
    (EventType.CONSENT_EXPIRED, ""): _("The consent given to {consumer} expired"),
    (EventType.EXCHANGE_SUCCEEDED, ""): _("{consumer} obtained {what}"),
    (EventType.EXCHANGE_DENIED, ""): _("The gateway refused {consumer} access to {what}"),
    (EventType.EXCHANGE_FAILED, ""): _("{consumer} asked for {what}, but the provider could not answer"),
    (EventType.CITIZEN_PREVIEWED, ""): _("The data was previewed: {what}, requested by {consumer}"),
    (EventType.MANDATE_GRANTED, ""): _("A legal mandate to act for this person was recorded"),
    (EventType.MANDATE_REVOKED, ""): _("A legal mandate to act for this person was withdrawn"),
    (EventType.MANDATE_LAPSED, ""): _("A legal mandate to act for this person ended"),
}
# A citizen's own history, for what someone did for them under a legal mandate.
ACTED_FOR_YOU_SENTENCES: dict[tuple[str, str], Promise] = {
    (EventType.CONSENT_APPROVED, ""): _(
        "Someone acting for you under a legal mandate agreed that {consumer} may obtain {what}"
    ),
    (EventType.CONSENT_REJECTED, ""): _(
        "Someone acting for you under a legal mandate refused to let {consumer} obtain {what}"
    ),
    (EventType.CONSENT_REVOKED, ""): _(
        "Someone acting for you under a legal mandate withdrew the consent given to {consumer}"
    ),
    (EventType.CITIZEN_PREVIEWED, ""): _(
        "Someone acting for you under a legal mandate previewed {what}, requested by {consumer}"
    ),
}
# The events a citizen may say they do not recognise: an administration obtained, or tried to
# obtain, their data.
OBJECTABLE = {EventType.EXCHANGE_SUCCEEDED, EventType.EXCHANGE_DENIED, EventType.EXCHANGE_COLLECTED}


@dataclass(frozen=True)
class NamedOrganisation:
    name: str
    siret: str


@dataclass(frozen=True)
class HistoryEntry:
    row: HistoryRow
    sentence: str
    who: NamedOrganisation | None
    from_whom: list[NamedOrganisation]
    why: str
    when: dt.datetime  # local time (Europe/Paris)
    is_auditor: bool
    # The citizen's report about this event, if they made one.
    objection: Objection | None = None
    # Who acted for the subject and on what ground (empty when the subject acted themselves).
    acted_by: str = ""
    # Each type's title with its fields' labels ("Family quotient", ["Family quotient (€)", …]).
    data: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def objectable(self) -> bool:
        return self.row.type in OBJECTABLE

    @property
    def event_id(self) -> int:
        return self.row.event_id

    @property
    def consent_id(self) -> uuid.UUID | None:
        return self.row.consent_id

    @property
    def sealed(self) -> bool:
        return self.row.sealed


def _type_slugs(row: HistoryRow) -> list[str]:
    """A consent over several types leaves `attestation_type` empty and qualifies its fields."""
    if row.attestation_type:
        return [row.attestation_type]
    return list(dict.fromkeys(name.split(":", 1)[0] for name in row.fields if ":" in name))


def _your(title: str) -> str:
    # "Quotient familial CAF" reads "votre quotient familial CAF"; "RSA…" keeps its capitals.
    if len(title) > 1 and title[0].isupper() and title[1].islower():
        title = title[0].lower() + title[1:]
    return gettext("your {title}").format(title=title)


def _what(titles: list[str], *, own: bool = True) -> str:
    if not titles:
        return gettext("your data") if own else gettext("the data")
    parts = [_your(title) for title in titles] if own else titles
    if len(parts) == 1:
        return parts[0]
    return gettext("{first} and {last}").format(first=", ".join(parts[:-1]), last=parts[-1])


def _sentence(row: HistoryRow, consumer: str, what: str, *tables: dict[tuple[str, str], Promise]) -> str:
    """The first table's sentence for this event (by type and the reason in its detail, by type and
    actor kind, then by type alone)."""
    sentence = next(
        (
            found
            for table in tables
            for key in (
                (row.type, f"reason:{row.detail.get('reason', '')}"),
                (row.type, row.actor_kind),
                (row.type, ""),
            )
            if (found := table.get(key))
        ),
        None,
    )
    if sentence is None:
        # An event type this page has no sentence for still reads in words: its label.
        return str(EventType(row.type).label) if row.type in EventType.values else gettext("An event was recorded")
    return str(sentence).format(consumer=consumer, what=what)


class _People:
    """The people one page's mandates and register checks name, read once (two queries at most)."""

    def __init__(self, rows: Iterable[HistoryRow]) -> None:
        rows = list(rows)
        mandates = {found for row in rows if (found := _uuid(row.detail.get("mandate")))}
        checks = {found for row in rows if (found := _uuid(row.detail.get("register_check")))}
        self.mandates = (
            {str(m.pk): m for m in Mandate.objects.filter(pk__in=mandates).select_related("agent")} if mandates else {}
        )
        self.checks = (
            {str(c.pk): c for c in RegisterCheck.objects.filter(pk__in=checks).select_related("citizen")}
            if checks
            else {}
        )

    def acted_by(self, row: HistoryRow) -> str:
        """Who acted for the subject, and on what ground, in words ("" when nobody else did)."""
        mandate = self.mandates.get(str(row.detail.get("mandate", "")))
        check = self.checks.get(str(row.detail.get("register_check", "")))
        if row.type == EventType.REPRESENTATION_CHECKED and check is not None:
            if not check.listed:
                # Whoever the register does not list is no business of the company's people.
                return gettext("The register did not list the person who wanted to act for the company.")
            return gettext("The register listed {name} ({office}).").format(
                name=_name(check.citizen), office=check.office or gettext("legal representative")
            )
        if row.type.startswith("mandate.") and mandate is not None and mandate.agent is not None:
            return gettext("Held by {name}, until {day}.").format(
                name=_name(mandate.agent), day=date_format(timezone.localtime(mandate.valid_until))
            )
        ground = row.detail.get("ground")
        if ground == Ground.LEGAL_REPRESENTATIVE and check is not None:
            return gettext("By {name}, the company's legal representative (checked in the companies register).").format(
                name=_name(check.citizen)
            )
        if ground == Ground.DELEGATE and mandate is not None and mandate.agent is not None:
            return gettext("By {name}, under a delegation.").format(name=_name(mandate.agent))
        if ground == Ground.LEGAL_MANDATE and mandate is not None and mandate.agent is not None:
            return gettext("By {name}, under a legal mandate ({source}).").format(
                name=_name(mandate.agent), source=mandate.legal_source
            )
        return ""


def _uuid(value: object) -> str | None:
    try:
        return str(uuid.UUID(str(value))) if value else None
    except ValueError:
        return None


def _name(citizen: Citizen) -> str:
    return citizen.display_name or gettext("a person whose identity is no longer held")


class _Catalogue:
    """The organisations and types one page of history mentions, read once."""

    def __init__(self, rows: Iterable[HistoryRow]) -> None:
        rows = list(rows)
        sirets = {siret for row in rows for siret in (row.who, row.from_whom) if siret}
        slugs = {slug for row in rows for slug in _type_slugs(row)}
        self.organisations = {org.siret: org for org in Organisation.objects.filter(siret__in=sirets)} if sirets else {}
        fields = Prefetch("fields", queryset=AttestationField.objects.order_by("position", "name"))
        self.types: dict[str, AttestationType] = (
            {
                kind.slug: kind
                for kind in AttestationType.objects.filter(slug__in=slugs)
                .select_related("holder")
                .prefetch_related(fields)
            }
            if slugs
            else {}
        )

    def organisation(self, siret: str) -> NamedOrganisation | None:
        if not siret:
            return None
        found = self.organisations.get(siret)
        return NamedOrganisation(name=found.name if found else siret, siret=siret)

    def title(self, slug: str) -> str:
        kind = self.types.get(slug)
        if kind is None:
            return slug
        return str(localized(kind, "title"))

    def data(self, row: HistoryRow) -> tuple[tuple[str, tuple[str, ...]], ...]:
        """Each type's title with the labels of its fields in this event, in the event's order."""
        groups: dict[str, list[str]] = {slug: [] for slug in _type_slugs(row)}
        for name in row.fields:
            slug, _, field_name = name.rpartition(":")
            slug = slug or row.attestation_type
            kind = self.types.get(slug)
            label = field_name
            if kind is not None:
                for field in kind.fields.all():
                    if field.name == field_name:
                        label = str(localized(field, "label"))
                        break
            groups.setdefault(slug, []).append(label)
        return tuple((self.title(slug), tuple(labels)) for slug, labels in groups.items() if slug)

    def purpose(self, row: HistoryRow) -> str:
        for slug in _type_slugs(row):
            kind = self.types.get(slug)
            for purpose in kind.purposes if kind else []:
                if purpose.get("code") == row.why:
                    return str(localized_key(purpose, "label") or row.why)
        return row.why

    def providers(self, row: HistoryRow) -> list[NamedOrganisation]:
        provider = self.organisation(row.from_whom)
        if provider is not None:
            return [provider]
        # Several types from several holders: the event names no single provider.
        holders = {}
        for slug in _type_slugs(row):
            kind = self.types.get(slug)
            if kind is not None:
                holders[kind.holder.siret] = NamedOrganisation(name=kind.holder.name, siret=kind.holder.siret)
        return list(holders.values())


def history_entries(
    rows: list[HistoryRow],
    objections: dict[int, Objection] | None = None,
    *,
    company: bool = False,
    principal: bool = False,
    subject_ref: str = "",
) -> list[HistoryEntry]:
    """The rows in plain words: a citizen's own ("you…"; `subject_ref` is theirs, to tell what
    someone else did for them), a company's (`company`), or those of a person someone acts for
    (`principal`)."""
    sentences = COMPANY_SENTENCES if company else PRINCIPAL_SENTENCES if principal else SENTENCES
    catalogue = _Catalogue(rows)
    people = _People(rows)
    objections = objections or {}
    entries = []
    for row in rows:
        # The auditors' answers to the citizen's own report name the administration concerned.
        is_auditor = row.type.startswith("auditor.") or (
            row.actor_kind == ActorKind.AUDITOR and not row.type.startswith("objection.")
        )
        # An auditor's username is staff data, not the citizen's business: the page says "an auditor".
        who = None if is_auditor else catalogue.organisation(row.who)
        titles = [catalogue.title(slug) for slug in _type_slugs(row)]
        # In a citizen's own history, what a person acting for them did reads as such.
        acted_for_you = bool(
            subject_ref and row.actor_kind == ActorKind.CITIZEN and row.actor and row.actor != subject_ref
        )
        entries.append(
            HistoryEntry(
                row=row,
                sentence=_sentence(
                    row,
                    who.name if who else "",
                    _what(titles, own=not (company or principal)),
                    *((ACTED_FOR_YOU_SENTENCES, sentences) if acted_for_you else (sentences,)),
                ),
                acted_by=people.acted_by(row),
                data=catalogue.data(row),
                who=who,
                from_whom=[] if is_auditor else catalogue.providers(row),
                why=catalogue.purpose(row),
                when=timezone.localtime(row.when),
                is_auditor=is_auditor,
                objection=objections.get(row.event_id),
            )
        )
    return entries


def _before(request: HttpRequest) -> int | None:
    value = request.GET.get("before", "")
    # isascii: "²".isdigit() is true but int("²") fails.
    return int(value) if value.isascii() and value.isdigit() and len(value) < 19 else None


@dataclass(frozen=True)
class HistoryPage:
    rows: list[HistoryRow]
    next_before: int | None  # the `before` of the next, older page; None on the oldest
    paged: bool  # not the newest page


def history_page(request: HttpRequest, *, subject_ref: str) -> HistoryPage:
    """The page of a subject's history that `?before=` names (the newest without it)."""
    before = _before(request)
    rows = history_rows_for_citizen(citizen_ref=subject_ref, limit=PAGE_SIZE + 1, before_id=before)
    more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return HistoryPage(rows=rows, next_before=rows[-1].event_id if more else None, paged=before is not None)


@require_GET
@never_cache
@citizen_required
@replica_view
def history(request: HttpRequest) -> HttpResponse:
    citizen_ref = required_citizen(request).ref
    page = history_page(request, subject_ref=citizen_ref)
    objections = objections_for_citizen(citizen_ref=citizen_ref, event_ids=[row.event_id for row in page.rows])
    context: dict[str, Any] = {
        "title": gettext("History of my data"),
        "entries": history_entries(page.rows, objections, subject_ref=citizen_ref),
        "next_before": page.next_before,
        "paged": page.paged,
    }
    return render(request, "consent/history.html", context)


@require_GET
@never_cache
@citizen_required
@not_found_as_404
@replica_view
def proof(request: HttpRequest, event_id: int) -> HttpResponse:
    """The event's inclusion proof, to keep and verify offline (`python verifier.pyz preuve.json --bundle`)."""
    if event_id >= 2**63:  # beyond a bigint: nobody's event, and PostgreSQL would refuse the query
        raise Http404
    bundle = proof_bundle(event_id=event_id, citizen_ref=required_citizen(request).ref)
    body = json.dumps(bundle, ensure_ascii=False, indent=2)
    response = HttpResponse(body, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="preuve-{event_id}.json"'
    return response
