"""A consumer asks a citizen for consent: the request is checked against the consumer's
habilitations (the scope ceiling) before anything is stored."""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone
from oauth2_provider.models import Application

from audit.models import ActorKind, EventType
from audit.services import Actor
from consent.models import Citizen, Consent, ConsentItem
from consent.rules import (
    CODE_ALPHABET,
    CODE_LENGTH,
    PIVOT_HASH,
    addressee_ref,
    citizen_addressee,
    expiry_due,
    may_decide,
    one_time_code_ref,
    one_time_code_wellformed,
)
from consent.services.representation import company_for_request
from consent.services.trail import citizen_actor, consent_event_record, consent_items
from core.errors import HabilitationMissing, IdempotencyConflict, InvalidTransition, NotFound, ValidationError
from core.tasks import enqueue_on_commit
from core.text import text_storable
from providers.models import AttestationType, Habilitation, Organisation, url_origin
from providers.rules import return_url_allowed
from providers.selectors import habilitation_in_force

# The 12-month cap on a consent's validity.
MAX_DURATION_DAYS = 365
MAX_PURPOSE_TEXT = 1000
MAX_IDEMPOTENCY_KEY = 200
_LOOPBACK_HOSTS = {"localhost"}

Errors = dict[str, list[dict[str, str]]]


def error_add(errors: Errors, field: str, code: str, message: str) -> None:
    errors.setdefault(field, []).append({"code": code, "message": message})


# The database column's range (PostgreSQL integer): beyond it a limit means nothing anyway.
MAX_USES = 2_147_483_647


def slugs_check(errors: Errors, slugs: Sequence[str]) -> None:
    if not slugs:
        error_add(errors, "attestation_types", "required", "Ask for at least one attestation type.")
    elif len(set(slugs)) != len(slugs):
        error_add(errors, "attestation_types", "duplicate", "Each attestation type may appear once.")


def limits_check(errors: Errors, *, duration_days: int, max_uses: int | None) -> None:
    """The limits of every consent, whichever flow asks for it."""
    if not 1 <= duration_days <= MAX_DURATION_DAYS:
        error_add(errors, "duration_days", "out_of_range", f"A consent lasts from 1 to {MAX_DURATION_DAYS} days.")
    if max_uses is not None and not 1 <= max_uses <= MAX_USES:
        error_add(errors, "max_uses", "out_of_range", f"max_uses is 1 to {MAX_USES} (omit it for no limit).")


def catalogue_order(attestation_type: AttestationType, names: Iterable[str]) -> list[str]:
    """The field names once each, in catalogue order whatever order was asked, so equal consents
    compare equal."""
    order = {field.name: field.position for field in attestation_type.fields.all()}
    return sorted(dict.fromkeys(names), key=lambda name: order.get(name, 0))


def approval_url(consent: Consent) -> str:
    return f"{settings.GATEWAY_BASE_URL}/consentements/demandes/{consent.pk}/"


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _return_url_error(url: str, consumer: Organisation) -> tuple[str, str] | None:
    if len(url) > 200:
        return "too_long", "The return URL is at most 200 characters."
    try:
        URLValidator(schemes=["https", "http"])(url)
    except DjangoValidationError:
        return "invalid_url", "The return URL is not a valid absolute URL."
    parts = urlsplit(url)
    if parts.scheme != "https" and not (settings.DEMO_MODE and _is_loopback(parts.hostname or "")):
        return "https_required", "The return URL must use https (http only to a loopback address in demo mode)."
    if not return_url_allowed(url=url, origins=consumer.return_url_origins):
        registered = ", ".join(consumer.return_url_origins) or "none"
        return (
            "origin_not_registered",
            f"The return URL's origin {url_origin(url)} is not one your organisation registered ({registered}).",
        )
    return None


def request_fingerprint(**request: Any) -> str:
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _replay(*, client: Application | None, idempotency_key: str, fingerprint: str) -> Consent | None:
    if not idempotency_key or client is None:
        return None
    existing = Consent.objects.filter(client=client, idempotency_key=idempotency_key).first()
    if existing is not None and existing.request_fingerprint != fingerprint:
        raise IdempotencyConflict("This Idempotency-Key was already used with a different request body.")
    return existing


@transaction.atomic
def consent_request_create(
    *,
    consumer: Organisation,
    client: Application | None,
    attestation_types: Sequence[str],
    fields: Mapping[str, Sequence[str]] | None,
    purpose_code: str,
    purpose_text: str,
    duration_days: int,
    max_uses: int | None,
    return_url: str = "",
    reference: str = "",
    idempotency_key: str = "",
    pivot_identity_hash: str = "",
    one_time_code: str = "",
    company_siret: str = "",
) -> Consent:
    """Creates a pending consent and records `consent.requested`. With a `pivot_identity_hash`
    (consent.rules.pivot_identity_hash), only that person may open and decide it. With a
    `one_time_code` (one_time_code_new; kept only as a keyed hash), the link opens nothing until
    someone enters the code, and then only they may decide it. With a `company_siret`, the company
    is its subject: every type must be about companies, and only someone who may act for the
    company may open and decide it (consent.services.representation).

    With an `idempotency_key` (scoped to the client), the same request again returns the consent
    the first one created; the same key with a different request raises IdempotencyConflict.
    """
    slugs = list(attestation_types)
    fingerprint = request_fingerprint(
        attestation_types=slugs,
        fields={k: list(v) for k, v in fields.items()} if fields is not None else None,
        purpose_code=purpose_code,
        purpose_text=purpose_text,
        duration_days=duration_days,
        max_uses=max_uses,
        return_url=return_url,
        reference=reference,
        pivot_identity_hash=pivot_identity_hash,
        # Whether, not which: each request gets a new code, and a replay must still match.
        one_time_code=bool(one_time_code),
        **({"company_siret": company_siret} if company_siret else {}),
    )
    # A key the database cannot hold is never looked up: it is refused with the other errors below.
    key_storable = text_storable(idempotency_key, max_length=MAX_IDEMPOTENCY_KEY)
    replayed = (
        _replay(client=client, idempotency_key=idempotency_key, fingerprint=fingerprint) if key_storable else None
    )
    if replayed is not None:
        return replayed

    errors: Errors = {}
    types = _types_check(slugs, errors)
    company = company_for_request(siret=company_siret, errors=errors) if company_siret else None
    wanted_kind = AttestationType.SubjectKind.COMPANY if company_siret else AttestationType.SubjectKind.PERSON
    for attestation_type in types:
        if attestation_type.subject_kind != wanted_kind:
            error_add(
                errors,
                "attestation_types",
                "subject_kind_mismatch",
                f"'{attestation_type.slug}' is about a {attestation_type.subject_kind}: "
                + ("name a company subject (SIRET)." if not company_siret else "it cannot have a company subject."),
            )
    if company_siret and pivot_identity_hash:
        error_add(errors, "pivot_identity_hash", "conflict", "A request is about a company or a person, not both.")
    if fields is not None:
        for slug in fields:
            if slug not in slugs:
                error_add(errors, f"fields.{slug}", "type_not_requested", "Fields are given for a type not requested.")
            elif not fields[slug]:
                error_add(errors, f"fields.{slug}", "empty", "Ask for at least one field, or leave the type out.")
    if not purpose_code:
        error_add(errors, "purpose.code", "required", "A purpose code is required.")
    if len(purpose_text) > MAX_PURPOSE_TEXT:
        error_add(errors, "purpose.text", "too_long", f"The purpose text is at most {MAX_PURPOSE_TEXT} characters.")
    limits_check(errors, duration_days=duration_days, max_uses=max_uses)
    if return_url and (error := _return_url_error(return_url, consumer)):
        error_add(errors, "return_url", *error)
    if len(reference) > 100:
        error_add(errors, "reference", "too_long", "The reference is at most 100 characters.")
    if pivot_identity_hash and not PIVOT_HASH.fullmatch(pivot_identity_hash):
        error_add(
            errors, "pivot_identity_hash", "invalid", "A SHA-256 of the pivot identity, as 64 lower-case hex digits."
        )
    if one_time_code and pivot_identity_hash:
        error_add(
            errors, "one_time_code", "conflict", "Address a request by pivot_identity_hash or one_time_code, not both."
        )
    elif one_time_code and not one_time_code_wellformed(one_time_code):
        error_add(errors, "one_time_code", "invalid", "Not a one-time code of this gateway.")
    if len(idempotency_key) > MAX_IDEMPOTENCY_KEY:
        error_add(
            errors, "idempotency_key", "too_long", f"The Idempotency-Key is at most {MAX_IDEMPOTENCY_KEY} characters."
        )
    elif not key_storable:
        error_add(errors, "idempotency_key", "invalid", "The Idempotency-Key holds a NUL or an unpaired surrogate.")
    if errors:
        raise ValidationError("The consent request is not valid.", errors=errors)

    habilitations = _habilitations(consumer, types)
    chosen: dict[str, list[str]] = {}
    for attestation_type in types:
        habilitation = habilitations[attestation_type.slug]
        allowed = list(habilitation.fields)
        wanted = list(fields[attestation_type.slug]) if fields and attestation_type.slug in fields else allowed
        outside = [name for name in wanted if name not in allowed]
        if outside:
            error_add(
                errors,
                f"fields.{attestation_type.slug}",
                "outside_habilitation",
                "Not covered by your habilitation: " + ", ".join(sorted(outside)),
            )
        chosen[attestation_type.slug] = catalogue_order(attestation_type, wanted)
        if habilitation.purpose_code != purpose_code:
            error_add(
                errors,
                "purpose.code",
                "outside_habilitation",
                f"Your habilitation for {attestation_type.slug} is for the purpose '{habilitation.purpose_code}'.",
            )
    if errors:
        raise ValidationError("The consent request goes beyond your habilitations.", errors=errors)

    now = timezone.now()
    first = habilitations[types[0].slug]
    consent = Consent(
        consumer=consumer,
        client=client,
        purpose_code=purpose_code,
        purpose_text=purpose_text or first.purpose_text,
        duration_days=duration_days,
        max_uses=max_uses,
        return_url=return_url,
        reference=reference,
        addressee=addressee_ref(pivot_identity_hash) if pivot_identity_hash else "",
        code_ref=one_time_code_ref(one_time_code) if one_time_code else "",
        company=company,
        request_expires_at=now + dt.timedelta(days=settings.CONSENT_REQUEST_TTL_DAYS),
        created_at=now,
        updated_at=now,
        idempotency_key=idempotency_key if client is not None else "",
        request_fingerprint=fingerprint,
    )
    try:
        # A concurrent request with the same key loses on the unique constraint, not on a race.
        with transaction.atomic():
            consent.save(force_insert=True)
    except IntegrityError:
        replayed = _replay(client=client, idempotency_key=idempotency_key, fingerprint=fingerprint)
        if replayed is None:
            raise
        return replayed
    items = [
        ConsentItem.objects.create(
            consent=consent,
            attestation_type=attestation_type,
            habilitation=habilitations[attestation_type.slug],
            fields=chosen[attestation_type.slug],
        )
        for attestation_type in types
    ]
    actor = Actor(ActorKind.CONSUMER, client.client_id if client is not None else consumer.siret)
    consent_event_record(type=EventType.CONSENT_REQUESTED, actor=actor, consent=consent, items=items)
    return consent


def _types_check(slugs: list[str], errors: Errors) -> list[AttestationType]:
    slugs_check(errors, slugs)
    if not slugs:
        return []
    found = {
        t.slug: t
        for t in AttestationType.objects.filter(slug__in=slugs, active=True)
        .select_related("holder")
        .prefetch_related("fields")
    }
    for slug in dict.fromkeys(slugs):
        if slug not in found:
            error_add(errors, "attestation_types", "unknown_type", f"No active attestation type '{slug}'.")
    return [found[slug] for slug in dict.fromkeys(slugs) if slug in found]


def _habilitations(consumer: Organisation, types: list[AttestationType]) -> dict[str, Habilitation]:
    found: dict[str, Habilitation] = {}
    for attestation_type in types:
        habilitation = habilitation_in_force(consumer=consumer, attestation_type=attestation_type)
        if habilitation is None:
            raise HabilitationMissing(
                f"Your organisation has no approved habilitation for {attestation_type.slug}.",
                extra={"attestation_type": attestation_type.slug},
            )
        found[attestation_type.slug] = habilitation
    return found


def one_time_code_new() -> str:
    """A new one-time code (consent.rules: Crockford's base32, 60 bits), for the consumer to give
    the person by its own channel."""
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _bind(consent: Consent, citizen: Citizen, *, by: str, **conditions: Any) -> bool:
    """Binds a pending request bound to nobody (and matching `conditions`) to the citizen's login,
    addressed to their person (who may come back through another identity provider, e.g. to log
    in at a higher level), and records `consent.bound`. Only while still unbound: of two racing,
    one binds and the other gets False."""
    addressee = consent.addressee or citizen_addressee(citizen)
    now = timezone.now()
    bound = Consent.objects.filter(
        pk=consent.pk, citizen__isnull=True, status=Consent.Status.PENDING, **conditions
    ).update(citizen=citizen, addressee=addressee, code_ref="", updated_at=now)
    if not bound:
        return False
    consent.citizen, consent.addressee, consent.code_ref, consent.updated_at = citizen, addressee, "", now
    consent_event_record(
        type=EventType.CONSENT_BOUND,
        actor=citizen_actor(citizen),
        consent=consent,
        items=consent_items(consent),
        detail={"by": by},
    )
    return True


@transaction.atomic
def consent_request_open(*, consent: Consent, citizen: Citizen) -> Consent:
    """The citizen opens a request: allowed when `may_decide` says so (NotFound otherwise, as for
    any consent that is not theirs). A pending request bound to nobody is bound to them now, so
    that from then on only they see it and may decide it (`consent.bound`, by link, or by
    identity when the consumer named the person). A company's request is bound to nobody: the
    page asks `acting_for_company` instead, each time."""
    if consent.company_id is not None:
        return consent
    person = citizen_addressee(citizen)
    if not may_decide(
        bound_to=consent.citizen_id,
        addressee=consent.addressee,
        citizen=citizen.pk,
        citizen_addressee=person,
        code_ref=consent.code_ref,
    ):
        raise NotFound("No such consent.")
    if consent.citizen_id is None and consent.status == Consent.Status.PENDING:
        by = "identity" if consent.addressee else "link"
        if not _bind(consent, citizen, by=by, code_ref=""):
            raise NotFound("No such consent.")
    return consent


@transaction.atomic
def consent_code_enter(*, citizen: Citizen, code: str, consent: Consent | None = None) -> Consent:
    """The citizen enters the one-time code an administration gave them (for `consent`, when they
    came through its link): the request waiting for that code becomes theirs (`consent.bound`, by
    code) and shows on their dashboard. A wrong, spent or expired code changes nothing and raises
    ValidationError; the pages limit how often one may try."""
    wrong = ValidationError(
        "This code does not open any request waiting for a decision.",
        errors={"code": [{"code": "wrong_code", "message": "No request waits for this code."}]},
    )
    if not one_time_code_wellformed(code):
        raise wrong
    waiting = Consent.objects.filter(
        code_ref=one_time_code_ref(code),
        citizen__isnull=True,
        status=Consent.Status.PENDING,
        request_expires_at__gt=timezone.now(),
    )
    if consent is not None:
        waiting = waiting.filter(pk=consent.pk)
    found = waiting.select_related("consumer").first()
    if found is None or not _bind(found, citizen, by="code", code_ref=found.code_ref):
        raise wrong
    return found


def renewal_due(consent: Consent, now: dt.datetime) -> bool:
    """A consent in force whose end is near enough that its administration may ask to renew it."""
    return (
        consent.status in (Consent.Status.ACTIVE, Consent.Status.PAUSED)
        and consent.valid_until is not None
        and now < consent.valid_until <= now + dt.timedelta(days=settings.CONSENT_RENEWAL_WINDOW_DAYS)
    )


@transaction.atomic
def consent_renewal_request(*, consent: Consent, client: Application | None) -> Consent:
    """The administration asks the same subject to renew a consent that ends soon: a new request
    with the same terms, naming the consent it follows. A person's waits on their dashboard (bound
    to them, addressed to the person); a company's on the company's page, for whoever may act for
    the company then. Again while one is pending: that one."""
    consent = Consent.objects.select_for_update(of=("self",)).select_related("citizen", "company").get(pk=consent.pk)
    now = timezone.now()
    ended = consent.status not in (Consent.Status.ACTIVE, Consent.Status.PAUSED) or expiry_due(
        status=consent.status,
        request_expires_at=consent.request_expires_at,
        valid_until=consent.valid_until,
        now=now,
    )
    if ended:
        raise InvalidTransition(
            "A consent that has ended cannot be renewed.",
            extra={"consent_status": consent.status, "consent_id": str(consent.pk)},
        )
    pending = consent.renewals.filter(status=Consent.Status.PENDING).first()
    if pending is not None:
        return pending
    if (consent.citizen is None and consent.company is None) or not renewal_due(consent, now):
        raise InvalidTransition(
            f"A consent can be renewed only while in force and within "
            f"{settings.CONSENT_RENEWAL_WINDOW_DAYS} days of its end."
        )
    items = list(consent.items.select_related("attestation_type"))
    renewal = consent_request_create(
        consumer=consent.consumer,
        client=client,
        attestation_types=[item.attestation_type.slug for item in items],
        fields={item.attestation_type.slug: list(item.fields) for item in items},
        purpose_code=consent.purpose_code,
        purpose_text=consent.purpose_text,
        duration_days=consent.duration_days,
        max_uses=consent.max_uses,
        return_url=consent.return_url,
        reference=consent.reference,
        company_siret=consent.company.siret if consent.company is not None else "",
    )
    renewal.renews = consent
    if consent.citizen is not None:
        renewal.citizen = consent.citizen
        renewal.addressee = consent.addressee or citizen_addressee(consent.citizen)
    renewal.save(update_fields=["renews", "citizen", "addressee"])
    # Told by e-mail too (consent.services.notices.renewal_tell), after the commit: the person, or
    # for a company whoever decided the consent it renews.
    enqueue_on_commit("consent.tasks.renewal_tell", str(renewal.pk))
    return renewal
