"""Who acts for whom: the companies register checked live, and mandates.

A person acts for a company as its legal representative when the register's mandataires sociaux
(fetched through the register's provider adapter at the time they act, never cached) list them:
each answer is kept (`RegisterCheck`) and audited. A representative delegates to another person a
mandate with a scope (types, actions) and an end; the agent is whoever accepts its one-time
invitation link, which the representative hands over themselves (a real service knows people by
their login, not by an e-mail address anyone may type). A delegate may carve a narrower mandate
from theirs. An operator records legal mandates (a guardian, a parent) with their legal source.

When the register stops listing a representative, their next action is refused and every
delegation they granted (and those carved from it) lapses; a delegation also lapses when its
agent acts after its grantor left. Every grant, acceptance, revocation and lapse is an audit
event in the transaction that makes it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit.models import ActorKind, EventType
from audit.services import Actor, DetailValue, event_record
from consent.models import Citizen, Company, Consent, Ground, Mandate, RegisterCheck
from consent.rules import (
    ActingGround,
    ActingRefused,
    MandateTerms,
    acting_ground,
    citizen_addressee,
    delegation_refusal,
    mandate_in_force,
    mandate_loop,
    may_decide,
    register_office,
)
from consent.services.preview import citizen_subject
from consent.services.trail import citizen_actor
from core.errors import NotFound, ValidationError
from providers.adapters import adapter_for, target_for
from providers.adapters.base import CompanySubject, FetchContext
from providers.demodata.catalogue import REGISTER_SLUG
from providers.models import AttestationType
from providers.siret import siret_is_valid

Errors = dict[str, list[dict[str, str]]]
APPROVE, REVOKE, READ_HISTORY = Mandate.Action.APPROVE, Mandate.Action.REVOKE, Mandate.Action.READ_HISTORY


def company_subject(company: Company) -> CompanySubject:
    return CompanySubject(siren=company.siren, siret=company.siret)


def company_types() -> list[str]:
    return list(
        AttestationType.objects.filter(subject_kind=AttestationType.SubjectKind.COMPANY, active=True)
        .order_by("slug")
        .values_list("slug", flat=True)
    )


def company_for_request(*, siret: str, errors: Errors) -> Company | None:
    """The company a consumer names, or None with the reason in `errors` (`subject.siret`): a
    SIRET that fails the Luhn check, one the register does not know, a closed company."""

    def refuse(code: str, message: str) -> None:
        errors.setdefault("subject.siret", []).append({"code": code, "message": message})

    if not siret_is_valid(siret):
        refuse("invalid_siret", "A SIRET is 14 digits with a valid check digit.")
        return None
    company = Company.objects.filter(siret=siret).first()
    if company is None:
        refuse("unknown_company", "No company with this SIRET is known to the companies register.")
        return None
    if company.closed:
        refuse("company_closed", "This company is closed: it can be the subject of no new request.")
        return None
    return company


# --- The register, live ------------------------------------------------------------------------


def _register_answer(company: Company) -> list[dict[str, object]]:
    """The register's mandataires sociaux for `company`, now (its provider adapter; no transaction
    is open: a provider call never holds one)."""
    register = AttestationType.objects.select_related("holder").get(slug=REGISTER_SLUG)
    context = FetchContext(
        purpose=str(register.purposes[0]["code"]) if register.purposes else "",
        consumer_siret=company.siret,
        exchange_id=uuid.uuid4(),
    )
    result = adapter_for(target_for(register)).fetch(company_subject(company), ["mandataires_sociaux"], context)
    officers = result.fields.get("mandataires_sociaux")
    return list(officers) if isinstance(officers, list) else []


def register_check(*, citizen: Citizen, company: Company) -> RegisterCheck:
    """Asks the register whether `citizen` represents `company` now; records the answer and its
    `representation.checked` event. When the register no longer lists someone it listed before,
    their delegations lapse in the same transaction."""
    office = register_office(officers=_register_answer(company), identity=citizen_subject(citizen))
    with transaction.atomic():
        check = RegisterCheck.objects.create(
            company=company, citizen=citizen, listed=office is not None, office=(office or "")[:100]
        )
        event_record(
            type=EventType.REPRESENTATION_CHECKED,
            actor=citizen_actor(citizen),
            citizen_ref=company.ref,
            detail={"listed": check.listed, "register_check": str(check.pk)},
        )
        if not check.listed:
            _lapse(
                Mandate.objects.filter(
                    principal_company=company, granted_by=citizen, parent__isnull=True, kind=Mandate.Kind.DELEGATION
                ),
                reason="grantor_not_listed",
            )
    return check


# --- Mandates ----------------------------------------------------------------------------------


def mandate_terms(mandate: Mandate) -> MandateTerms:
    chain_ok = True
    parent = mandate.parent
    while parent is not None:
        chain_ok = chain_ok and parent.status == Mandate.Status.ACTIVE and parent.valid_until > timezone.now()
        parent = parent.parent
    return MandateTerms(
        id=mandate.pk,
        kind=mandate.kind,
        status=mandate.status,
        attestation_types=frozenset(mandate.attestation_types),
        actions=frozenset(mandate.actions),
        valid_from=mandate.valid_from,
        valid_until=mandate.valid_until,
        chain_in_force=chain_ok,
    )


def _principal_filter(*, company: Company | None, principal: Citizen | None) -> Q:
    return Q(principal_company=company) if company is not None else Q(principal_citizen=principal)


def mandates_held(*, agent: Citizen, company: Company | None = None, principal: Citizen | None = None) -> list[Mandate]:
    """The mandates `agent` holds (or held) for this principal, newest first."""
    return list(
        Mandate.objects.filter(_principal_filter(company=company, principal=principal), agent=agent)
        .exclude(status=Mandate.Status.INVITED)
        .select_related("parent__parent__parent", "granted_by")
        .order_by("-created_at")
    )


def _mandate_event(type: EventType, mandate: Mandate, actor: Actor, **detail: DetailValue) -> None:
    event_record(
        type=type,
        actor=actor,
        citizen_ref=mandate.principal_ref,
        detail={
            "mandate": str(mandate.pk),
            "kind": mandate.kind,
            "types": " ".join(mandate.attestation_types),
            "actions": " ".join(mandate.actions),
            "valid_until": mandate.valid_until.isoformat(),
            **({"agent": mandate.agent.ref} if mandate.agent is not None else {}),
            **detail,
        },
    )


def _lapse(mandates: QuerySet[Mandate], *, reason: str) -> int:
    """Ends the mandates in force (and, down the chain, those carved from them), each with its
    `mandate.lapsed` event. Runs inside the caller's transaction."""
    queue = list(
        mandates.filter(status__in=[Mandate.Status.ACTIVE, Mandate.Status.INVITED]).select_related(
            "principal_company", "principal_citizen", "agent"
        )
    )
    lapsed = 0
    now = timezone.now()
    while queue:
        mandate = queue.pop()
        mandate.status, mandate.ended_at, mandate.end_reason = Mandate.Status.LAPSED, now, reason
        mandate.invitation_hash = ""
        mandate.save(update_fields=["status", "ended_at", "end_reason", "invitation_hash"])
        _mandate_event(EventType.MANDATE_LAPSED, mandate, Actor.system(), reason=reason)
        lapsed += 1
        queue.extend(
            mandate.children.filter(status__in=[Mandate.Status.ACTIVE, Mandate.Status.INVITED]).select_related(
                "principal_company", "principal_citizen", "agent"
            )
        )
    return lapsed


def invitation_hash(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


@dataclass(frozen=True)
class Delegation:
    mandate: Mandate
    # Shown once to the grantor, who hands it over; only its hash is kept.
    invitation_code: str


def _refuse(code: str, message: str) -> ValidationError:
    return ValidationError(message, errors={"delegation": [{"code": code, "message": message}]})


_DELEGATION_MESSAGES = {
    "empty": "Choose at least one attestation and one action.",
    "ends_in_past": "The end date must be in the future.",
    "unknown_action": "Unknown action.",
    "unknown_type": "Only the company's attestations can be delegated.",
    "mandate_ended": "Your own mandate has ended.",
    "more_than_held": "You cannot delegate more than you hold.",
    "beyond_end": "You cannot delegate beyond the end of your own mandate.",
    "too_long": "A delegation lasts three years at most: its end date must come sooner.",
    "company_closed": "This company is closed: nobody can be given a delegation for it.",
}


@transaction.atomic
def mandate_delegate(
    *,
    grantor: Citizen,
    company: Company,
    acting: ActingGround,
    types: Sequence[str],
    actions: Sequence[str],
    valid_until: dt.datetime,
) -> Delegation:
    """A representative (or a delegate, within their own mandate) delegates to whoever accepts the
    invitation. `acting` is the grantor's ground, from `acting_for_company` just before."""
    if company.closed:
        raise _refuse("company_closed", _DELEGATION_MESSAGES["company_closed"])
    held: Mandate | None = None
    if acting.ground == Ground.DELEGATE and acting.mandate_id is not None:
        held = Mandate.objects.select_for_update().get(pk=acting.mandate_id, agent=grantor)
    elif acting.ground != Ground.LEGAL_REPRESENTATIVE:
        raise ActingRefused("You may not delegate for this company.", extra={"reason": "no_ground"})
    now = timezone.now()
    refusal = delegation_refusal(
        held=mandate_terms(held) if held is not None else None,
        types=types,
        actions=actions,
        valid_until=valid_until,
        now=now,
        company_types=company_types(),
    )
    if refusal is not None:
        raise _refuse(refusal, _DELEGATION_MESSAGES[refusal])
    code = secrets.token_urlsafe(24)
    mandate = Mandate.objects.create(
        kind=Mandate.Kind.DELEGATION,
        principal_company=company,
        attestation_types=sorted(set(types)),
        actions=[action for action in Mandate.Action.values if action in set(actions)],
        valid_from=now,
        valid_until=valid_until,
        granted_by=grantor,
        parent=held,
        invitation_hash=invitation_hash(code),
        status=Mandate.Status.INVITED,
    )
    _mandate_event(
        EventType.MANDATE_GRANTED,
        mandate,
        citizen_actor(grantor),
        ground=acting.ground,
        **({"register_check": str(acting.register_check_id)} if acting.register_check_id else {}),
    )
    return Delegation(mandate, code)


def mandate_invitation_get(*, code: str) -> Mandate:
    mandate = (
        Mandate.objects.filter(invitation_hash=invitation_hash(code), status=Mandate.Status.INVITED)
        .select_related("principal_company", "granted_by")
        .first()
        if code
        else None
    )
    if mandate is None:
        raise NotFound("No such invitation.")
    return mandate


def _chain_people(mandate: Mandate) -> list[int | uuid.UUID]:
    people: list[int | uuid.UUID] = []
    link: Mandate | None = mandate
    while link is not None:
        if link.granted_by_id is not None:
            people.append(link.granted_by_id)
        if link.principal_citizen_id is not None:
            people.append(link.principal_citizen_id)
        if link is not mandate and link.agent_id is not None:
            people.append(link.agent_id)
        link = link.parent
    return people


@transaction.atomic
def mandate_accept(*, code: str, citizen: Citizen) -> Mandate:
    """The person holding the invitation becomes the mandate's agent (once; never someone it
    comes from: no loops)."""
    mandate = mandate_invitation_get(code=code)
    mandate = (
        Mandate.objects.select_for_update(of=("self",)).select_related("parent__parent__parent").get(pk=mandate.pk)
    )
    if mandate.status != Mandate.Status.INVITED:
        raise NotFound("No such invitation.")
    if mandate_loop(agent=citizen.pk, chain=_chain_people(mandate)):
        raise _refuse("loop", "You cannot accept a mandate that comes from you.")
    if mandate.valid_until <= timezone.now():
        raise _refuse("ends_in_past", "This invitation has expired.")
    mandate.agent = citizen
    mandate.status = Mandate.Status.ACTIVE
    mandate.invitation_hash = ""
    mandate.save(update_fields=["agent", "status", "invitation_hash"])
    _mandate_event(EventType.MANDATE_ACCEPTED, mandate, citizen_actor(citizen))
    return mandate


@transaction.atomic
def mandate_revoke(*, mandate: Mandate, by: Citizen, acting: ActingGround | None = None) -> Mandate:
    """Its grantor, a legal representative of the company (`acting`), or its agent ends it; what
    was carved from it lapses. NotFound for anyone else."""
    mandate = (
        Mandate.objects.select_for_update(of=("self",))
        .select_related("principal_company", "principal_citizen", "agent")
        .get(pk=mandate.pk)
    )
    allowed = (
        mandate.granted_by_id == by.pk
        or mandate.agent_id == by.pk
        or (acting is not None and acting.ground == Ground.LEGAL_REPRESENTATIVE and mandate.principal_company_id)
    )
    if not allowed:
        raise NotFound("No such mandate.")
    if mandate.status not in (Mandate.Status.ACTIVE, Mandate.Status.INVITED):
        return mandate
    mandate.status, mandate.ended_at, mandate.end_reason = Mandate.Status.REVOKED, timezone.now(), "revoked"
    mandate.invitation_hash = ""
    mandate.save(update_fields=["status", "ended_at", "end_reason", "invitation_hash"])
    _mandate_event(EventType.MANDATE_REVOKED, mandate, citizen_actor(by))
    _lapse(mandate.children.all(), reason="parent_ended")
    return mandate


@transaction.atomic
def legal_mandate_record(
    *,
    principal: Citizen,
    agent: Citizen,
    types: Collection[str],
    actions: Collection[str],
    valid_until: dt.datetime,
    legal_source: str,
    operator: str,
) -> Mandate:
    """An operator records a legal mandate (a guardian for an adult, a parent for a minor), in force
    at once, with its legal source (a court decision's reference, a birth certificate)."""
    if not legal_source.strip():
        raise _refuse("legal_source", "Name the legal source of the mandate.")
    if principal.pk == agent.pk:
        raise _refuse("loop", "A person cannot hold a mandate for themselves.")
    if not types or not actions or not set(actions) <= set(Mandate.Action.values):
        raise _refuse("empty", "Choose at least one attestation type and known actions.")
    now = timezone.now()
    if valid_until <= now:
        raise _refuse("ends_in_past", "The end date must be in the future.")
    people = AttestationType.objects.filter(slug__in=set(types), subject_kind=AttestationType.SubjectKind.PERSON)
    unknown = sorted(set(types) - set(people.values_list("slug", flat=True)))
    if unknown:
        raise _refuse("unknown_type", f"Not attestation types about people: {', '.join(unknown)}.")
    in_force = Mandate.objects.filter(kind=Mandate.Kind.LEGAL, status=Mandate.Status.ACTIVE, valid_until__gt=now)
    if in_force.filter(principal_citizen=agent, agent=principal).exists():
        raise _refuse("loop", "The principal already acts for the agent under a legal mandate: mandates cannot loop.")
    if in_force.filter(principal_citizen=principal, agent=agent).exists():
        raise _refuse("already", "A legal mandate between these two people is in force: withdraw it before another.")
    mandate = Mandate.objects.create(
        kind=Mandate.Kind.LEGAL,
        principal_citizen=principal,
        agent=agent,
        attestation_types=sorted(set(types)),
        actions=[action for action in Mandate.Action.values if action in set(actions)],
        valid_until=valid_until,
        legal_source=legal_source.strip(),
        status=Mandate.Status.ACTIVE,
    )
    _mandate_event(EventType.MANDATE_GRANTED, mandate, Actor(ActorKind.OPERATOR, operator[:200]))
    return mandate


# --- Acting ------------------------------------------------------------------------------------


def _grantor_left(mandate: Mandate, company: Company) -> bool:
    """Whether the representative at the root of this delegation no longer represents the
    company (checked live; their delegations lapse then, in `register_check`)."""
    root = mandate
    while root.parent is not None:
        root = root.parent
    if root.granted_by is None:
        return False
    return not register_check(citizen=root.granted_by, company=company).listed


def acting_for_company(*, citizen: Citizen, company: Company, action: str, types: Collection[str]) -> ActingGround:
    """May `citizen` do `action` on `types` for `company` now: under a mandate in force (whose
    grantor the register still lists), else as a legal representative (the register asked live).
    Raises ActingRefused with the reason."""
    now = timezone.now()
    held = mandates_held(agent=citizen, company=company)
    terms = [mandate_terms(mandate) for mandate in held]
    ground = acting_ground(is_subject=False, listed=None, mandates=terms, action=action, types=types, now=now)
    if isinstance(ground, ActingGround):
        mandate = next(m for m in held if m.pk == ground.mandate_id)
        if not _grantor_left(mandate, company):
            return ground
        terms = [mandate_terms(m) for m in mandates_held(agent=citizen, company=company)]
    check = register_check(citizen=citizen, company=company)
    decided = acting_ground(
        is_subject=False,
        listed=check.listed,
        mandates=terms,
        action=action,
        types=types,
        now=now,
        register_check_id=check.pk,
    )
    if isinstance(decided, ActingRefused):
        raise decided
    return decided


def principal_for_request(*, consent: Consent, agent: Citizen) -> Citizen | None:
    """The person a request is addressed (or bound) to, when `agent` holds a legal mandate in force
    for them; None otherwise (a request addressed to nobody is anyone's to open as themselves)."""
    if consent.company_id is not None or (not consent.addressee and consent.citizen_id is None):
        return None
    now = timezone.now()
    for mandate in Mandate.objects.filter(
        agent=agent, kind=Mandate.Kind.LEGAL, status=Mandate.Status.ACTIVE, valid_until__gt=now
    ).select_related("principal_citizen"):
        principal = mandate.principal_citizen
        if principal is not None and may_decide(
            bound_to=consent.citizen_id,
            addressee=consent.addressee,
            citizen=principal.pk,
            citizen_addressee=citizen_addressee(principal),
        ):
            return principal
    return None


def company_access(*, citizen: Citizen, company: Company) -> ActingGround:
    """Whether `citizen` may open the company's pages at all, and on what ground: a delegation in
    force (whatever its scope; each action is then checked on its own), else the register listing
    them now. Raises ActingRefused."""
    now = timezone.now()
    had_mandate = False
    for mandate in mandates_held(agent=citizen, company=company):
        had_mandate = True
        if mandate_in_force(mandate_terms(mandate), now) and not _grantor_left(mandate, company):
            return ActingGround(Ground.DELEGATE, mandate_id=mandate.pk)
    check = register_check(citizen=citizen, company=company)
    if check.listed:
        return ActingGround(Ground.LEGAL_REPRESENTATIVE, register_check_id=check.pk)
    if had_mandate:
        raise ActingRefused("Your mandate has ended or been withdrawn.", extra={"reason": "mandate_ended"})
    raise ActingRefused(
        "The companies register does not list you as a legal representative of this company.",
        extra={"reason": "register_not_listed"},
    )


def acting_for_person(*, citizen: Citizen, principal: Citizen, action: str, types: Collection[str]) -> ActingGround:
    """May `citizen` do `action` on `types` for `principal` (themselves, or under a legal mandate)."""
    terms = [mandate_terms(mandate) for mandate in mandates_held(agent=citizen, principal=principal)]
    decided = acting_ground(
        is_subject=citizen.pk == principal.pk,
        listed=None,
        mandates=terms,
        action=action,
        types=types,
        now=timezone.now(),
    )
    if isinstance(decided, ActingRefused):
        decided.extra["subject"] = "person"  # the refusal page speaks of a person, not of a company
        raise decided
    return decided


def acting_still_holds(
    *,
    acting: ActingGround,
    agent: Citizen,
    company: Company | None = None,
    principal: Citizen | None = None,
    now: dt.datetime | None = None,
) -> bool:
    """Re-read under the decision's transaction: the mandate it rests on is this agent's, for this
    principal (the company, or the person), and still in force."""
    if acting.mandate_id is None:
        return acting.ground in (Ground.SUBJECT, Ground.LEGAL_REPRESENTATIVE)
    mandate = (
        Mandate.objects.select_related("parent__parent__parent")
        .filter(pk=acting.mandate_id, agent=agent)
        .filter(_principal_filter(company=company, principal=principal))
        .first()
    )
    return mandate is not None and mandate_in_force(mandate_terms(mandate), now or timezone.now())


@dataclass(frozen=True)
class ActingChoices:
    """Whom a person may act for, besides themselves (the dashboard's "acting for" switch)."""

    companies: list[tuple[Company, str]]
    legal_mandates: list[Mandate]
    # The legal mandates others hold for this person: they may see who acts for them.
    acting_for_me: list[Mandate]


def acting_choices(*, citizen: Citizen) -> ActingChoices:
    """The companies `citizen` may act for, and how (the register listed them at their latest
    check, or they hold a delegation in force), and the legal mandates in force they hold for
    other people, and those others hold for them. Two queries."""
    found: dict[int, tuple[Company, str]] = {}
    latest: dict[int, RegisterCheck] = {}
    for check in RegisterCheck.objects.filter(citizen=citizen).select_related("company").order_by("checked_at"):
        latest[check.company_id] = check
    for company_id, check in latest.items():
        if check.listed:
            found[company_id] = (check.company, Ground.LEGAL_REPRESENTATIVE)
    legal: list[Mandate] = []
    for_me: list[Mandate] = []
    for mandate in Mandate.objects.filter(
        Q(agent=citizen) | Q(principal_citizen=citizen), status=Mandate.Status.ACTIVE, valid_until__gt=timezone.now()
    ).select_related("principal_company", "principal_citizen", "agent"):
        if mandate.principal_citizen_id == citizen.pk:
            for_me.append(mandate)
        elif mandate.principal_company is not None:
            found.setdefault(mandate.principal_company.pk, (mandate.principal_company, Ground.DELEGATE))
        else:
            legal.append(mandate)
    return ActingChoices(sorted(found.values(), key=lambda pair: pair[0].name), legal, for_me)


def company_get(*, siren: str) -> Company:
    company = Company.objects.filter(siren=siren).order_by("pk").first()
    if company is None:
        raise NotFound("No such company.")
    return company


def company_register(*, citizen: Citizen, siret: str) -> tuple[Company, RegisterCheck]:
    """A person names a company they represent (its SIRET): the register is asked now."""
    errors: Errors = {}
    company = company_for_request(siret=siret, errors=errors)
    if company is None:
        raise ValidationError("This SIRET cannot be used.", errors=errors)
    return company, register_check(citizen=citizen, company=company)
