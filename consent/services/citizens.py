"""Citizens: who logs in, the pivot identity kept while it serves, and its erasure afterwards.

A citizen is their identity provider's (issuer, `sub`). The pivot identity (birth name, given
names, date and place of birth, sex) is what providers find people by: it arrives with each login,
is stored encrypted (core.fields) and only while the citizen has a session or a consent that
exchanges may still use (pending, active or paused); then the beat erases it, and says so in the
trail (`citizen.identity_erased`). A later login brings it back.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from audit.models import ActorKind, EventType
from audit.services import Actor, event_record
from consent.models import Citizen, Consent
from core.errors import ValidationError
from core.languages import is_supported
from core.oidc import LoginFailed
from providers.adapters.base import Subject
from providers.adapters.demo import demo_population
from providers.demodata.population import Person, demo_citizens

DEMO_SUBJECT_PREFIX = "demo-"
# Consents whose exchanges (or decision) still need the citizen's pivot identity.
LIVE_STATUSES = (Consent.Status.PENDING, Consent.Status.ACTIVE, Consent.Status.PAUSED)
ERASE_BATCH = 500

# FranceConnect's pivot identity (identite_pivot scope): COG codes are five characters (Corsica's
# 2A/2B included); a country of birth is 99xxx, France being 99100.
COG_RE = re.compile(r"^[0-9][0-9AB][0-9]{3}$")
COUNTRY_RE = re.compile(r"^99[0-9]{3}$")
FRANCE = "99100"
GENDERS = {"female": Citizen.Sex.FEMALE, "male": Citizen.Sex.MALE}


def demo_people() -> list[Person]:
    """The demo citizens of the population the demo adapter and the sandbox provider know."""
    return demo_citizens(demo_population())


def identity_from_claims(claims: Mapping[str, Any]) -> tuple[Subject, str]:
    """The pivot identity and the e-mail address in FranceConnect's claims; raises LoginFailed
    ("identity_incomplete") when a provider left out or garbled what providers reconcile on."""
    family_name, given_name = claims.get("family_name"), claims.get("given_name")
    gender, birthdate = claims.get("gender"), claims.get("birthdate")
    birthplace, birthcountry = claims.get("birthplace") or "", claims.get("birthcountry")
    names = (family_name, given_name)
    if not all(isinstance(name, str) and name.strip() for name in names):
        raise LoginFailed("identity_incomplete")
    if gender not in GENDERS or not isinstance(birthcountry, str) or not COUNTRY_RE.match(birthcountry):
        raise LoginFailed("identity_incomplete")
    # Born in France: the commune's COG code; born abroad: the country's.
    if birthcountry == FRANCE:
        if not isinstance(birthplace, str) or not COG_RE.match(birthplace):
            raise LoginFailed("identity_incomplete")
        place = birthplace
    else:
        place = birthcountry
    try:
        born = dt.date.fromisoformat(str(birthdate))
    except ValueError:
        # Includes FranceConnect's presumed dates (a day or month of 00): no provider could match them.
        raise LoginFailed("identity_incomplete") from None
    email = claims.get("email")
    subject = Subject(
        nom_naissance=str(family_name).strip(),
        prenoms=tuple(str(given_name).split()),
        date_naissance=born,
        sexe=GENDERS[gender],
        code_cog_lieu_naissance=place,
    )
    return subject, email.strip() if isinstance(email, str) else ""


def _session_deadline(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(seconds=settings.CITIZEN_SESSION_IDLE_SECONDS)


@transaction.atomic
def citizen_identify(*, issuer: str, subject: str, identity: Subject, email: str = "") -> Citizen:
    """The citizen logging in as `subject` at `issuer`, created on first login, with the identity
    their provider vouches for now (kept for the session that starts)."""
    now = timezone.now()
    values = {
        "nom_naissance": identity.nom_naissance,
        "prenoms": " ".join(identity.prenoms),
        "date_naissance": identity.date_naissance,
        "sexe": identity.sexe,
        "code_cog_lieu_naissance": identity.code_cog_lieu_naissance,
        "email": email or None,
        "identity_erased_at": None,
        "session_until": _session_deadline(now),
    }
    # Locked: the erasure sweep must not erase what this login is bringing back.
    citizen = Citizen.objects.select_for_update().filter(issuer=issuer, subject=subject).first()
    if citizen is None:
        return Citizen.objects.create(issuer=issuer, subject=subject, created_at=now, **values)
    for name, value in values.items():
        setattr(citizen, name, value)
    citizen.save(update_fields=list(values))
    return citizen


@transaction.atomic
def citizen_from_demo(*, index: int) -> Citizen:
    """The Citizen row of demo person `index` (demo login; idempotent)."""
    person = demo_people()[index]
    return citizen_from_person(person=person, subject=f"{DEMO_SUBJECT_PREFIX}{person.index}")


def person_identity(person: Person) -> Subject:
    return Subject(
        nom_naissance=person.nom_naissance,
        prenoms=tuple(person.prenoms),
        date_naissance=person.date_naissance,
        sexe=person.sexe,
        code_cog_lieu_naissance=person.code_cog_lieu_naissance,
    )


def citizen_from_person(*, person: Person, subject: str, issuer: str = "") -> Citizen:
    """The Citizen row with this login `subject`, with the person's civil status (idempotent)."""
    return citizen_identify(issuer=issuer, subject=subject, identity=person_identity(person))


def citizen_session_extend(*, citizen: Citizen, now: dt.datetime | None = None) -> None:
    """Pushes back the time until which the citizen's session may live (and their identity be
    kept). One UPDATE, at most about once a minute per citizen."""
    now = now or timezone.now()
    deadline = _session_deadline(now)
    if citizen.session_until is not None and citizen.session_until > deadline - dt.timedelta(seconds=60):
        return
    Citizen.objects.filter(pk=citizen.pk).update(session_until=deadline)
    citizen.session_until = deadline


def citizen_session_end(*, citizen: Citizen) -> None:
    """The citizen logged out: nothing of theirs needs keeping for a session any longer."""
    now = timezone.now()
    Citizen.objects.filter(pk=citizen.pk).update(session_until=now)
    citizen.session_until = now


def _erasable(now: dt.datetime) -> QuerySet[Citizen]:
    live = Consent.objects.filter(citizen=OuterRef("pk"), status__in=LIVE_STATUSES)
    return Citizen.objects.filter(
        Q(session_until__isnull=True) | Q(session_until__lt=now), identity_erased_at__isnull=True
    ).exclude(Exists(live))


@transaction.atomic
def citizen_identity_erase(*, citizen_id: uuid.UUID, now: dt.datetime | None = None) -> bool:
    """Erases one citizen's identity if nothing needs it any longer (checked again under the row's
    lock, which a login and an approval take too); records `citizen.identity_erased`."""
    now = now or timezone.now()
    citizen = _erasable(now).select_for_update().filter(pk=citizen_id).first()
    if citizen is None:
        return False
    for name in ("nom_naissance", "prenoms", "date_naissance", "sexe", "code_cog_lieu_naissance", "email"):
        setattr(citizen, name, None)
    citizen.identity_erased_at = now
    citizen.save(
        update_fields=[
            "nom_naissance",
            "prenoms",
            "date_naissance",
            "sexe",
            "code_cog_lieu_naissance",
            "email",
            "identity_erased_at",
        ]
    )
    event_record(
        type=EventType.CITIZEN_IDENTITY_ERASED,
        actor=Actor.system(),
        citizen_ref=citizen.ref,
        detail={"reason": "no_session_no_consent"},
    )
    return True


def citizens_identity_erase_due(*, now: dt.datetime | None = None) -> int:
    """Beat: erases the identities nothing needs any longer, each in its own transaction (a
    citizen logging in meanwhile keeps theirs). Returns how many were erased."""
    now = now or timezone.now()
    erased = 0
    while True:
        due = list(_erasable(now).order_by("pk").values_list("pk", flat=True)[:ERASE_BATCH])
        erased_now = sum(citizen_identity_erase(citizen_id=citizen_id, now=now) for citizen_id in due)
        erased += erased_now
        # A short batch was the last; a batch that erased nothing would only come back the same.
        if len(due) < ERASE_BATCH or not erased_now:
            return erased


@transaction.atomic
def citizen_login_failed_record(*, reason: str, provider: str) -> int:
    """`citizen.login_failed`: why a login was refused and through which provider; who tried is
    unknown or unproven, so no reference."""
    return event_record(
        type=EventType.CITIZEN_LOGIN_FAILED,
        actor=Actor(ActorKind.CITIZEN, "anonymous"),
        detail={"reason": reason, "provider": provider},
    )


@transaction.atomic
def citizen_notifications_set(*, citizen: Citizen, notify: str, email: str, language: str = "") -> Citizen:
    """How the citizen wants to be told of accesses to their data, where, and in which language
    (that of the page they chose it on); records `citizen.notifications_set` (the choice, whether
    the address changed; never the address)."""
    if notify not in Citizen.Notify.values:
        raise ValidationError("Unknown choice.", errors={"notify": [{"code": "invalid_choice", "message": notify}]})
    address = email.strip() or None
    address_changed = address != citizen.email
    citizen.notify = notify
    citizen.email = address
    if is_supported(language):
        citizen.language = language
    citizen.save(update_fields=["notify", "email", "language"])
    event_record(
        type=EventType.CITIZEN_NOTIFICATIONS_SET,
        actor=Actor(ActorKind.CITIZEN, citizen.ref),
        citizen_ref=citizen.ref,
        detail={"notify": notify, "email_changed": address_changed, "email_given": address is not None},
    )
    return citizen
