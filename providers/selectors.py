"""Reads of the providers app: the public catalogue and the habilitations in force."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from core.errors import NotFound
from gateway.rows import RowReader, columns, fetch_one, related_set
from providers.models import SLUG_RE, AttestationField, AttestationType, Habilitation, Organisation


def _in_force(consumer: Organisation) -> QuerySet[Habilitation]:
    return Habilitation.objects.filter(
        Q(valid_until__isnull=True) | Q(valid_until__gte=timezone.localdate()),
        consumer=consumer,
        status=Habilitation.Status.APPROVED,
        attestation_type__active=True,
    )


def habilitation_in_force(*, consumer: Organisation, attestation_type: AttestationType) -> Habilitation | None:
    """The consumer's approved, unexpired habilitation for this type (the latest decided), if any."""
    if not consumer.active:
        return None
    return _in_force(consumer).filter(attestation_type=attestation_type).order_by("-decided_at", "-created_at").first()


def attestation_type_slugs_in_force(*, consumer: Organisation) -> set[str]:
    """The attestation types the consumer's OAuth clients may ever be granted: its scope ceiling."""
    if not consumer.active:
        return set()
    return set(_in_force(consumer).values_list("attestation_type__slug", flat=True))


def _catalogue() -> QuerySet[AttestationType]:
    return (
        AttestationType.objects.filter(active=True)
        .select_related("holder")
        .prefetch_related(Prefetch("fields", queryset=AttestationField.objects.order_by("position", "name")))
        .order_by("slug")
    )


def catalogue_list() -> list[AttestationType]:
    """Every offered attestation type, with its holder and fields loaded (two queries)."""
    return list(_catalogue())


def attestation_type_get(slug: str) -> AttestationType:
    """One offered attestation type, with its holder and fields loaded; NotFound otherwise."""
    # Checked first: a malformed slug (a NUL byte, say) is simply unknown, never a database error.
    attestation_type = _catalogue().filter(slug=slug).first() if SLUG_RE.match(slug) else None
    if attestation_type is None:
        raise NotFound("No attestation type has this slug.")
    return attestation_type


@dataclass(frozen=True)
class ExchangeGrant:
    """An offered attestation type (holder loaded) and the consumer's habilitation in force for it."""

    attestation_type: AttestationType
    habilitation: Habilitation | None


def _exchange_grant_sql() -> str:
    quote = connection.ops.quote_name
    # Only model metadata is interpolated (table and column names); every value is a parameter.
    return (
        f"SELECT {columns(AttestationType, 't')}, {columns(Organisation, 'o')}, {columns(Habilitation, 'h')} "  # noqa: S608
        f"FROM {quote(AttestationType._meta.db_table)} t "
        f"JOIN {quote(Organisation._meta.db_table)} o ON o.id = t.holder_id "
        "LEFT JOIN LATERAL ("
        f"SELECT * FROM {quote(Habilitation._meta.db_table)} h "
        "WHERE h.attestation_type_id = t.id AND h.consumer_id = %(consumer)s AND h.status = %(approved)s "
        "AND (h.valid_until IS NULL OR h.valid_until >= %(today)s) "
        # As habilitation_in_force: the latest decided (PostgreSQL puts NULLs first in DESC).
        "ORDER BY h.decided_at DESC, h.created_at DESC LIMIT 1"
        ") h ON %(consumer_active)s "
        "WHERE t.slug = %(slug)s AND t.active LIMIT 1"
    )


def exchange_grant_for_consumer(*, consumer: Organisation, slug: str) -> ExchangeGrant | None:
    """The exchange's hot path: what `AttestationType(slug, active)` + `habilitation_in_force` return,
    in one query, read afresh (a habilitation revoked a second ago is not in force now). None when no
    offered type has this slug."""
    params = {
        "consumer": consumer.pk,
        "approved": Habilitation.Status.APPROVED.value,
        "today": timezone.localdate(),
        "consumer_active": bool(consumer.active),
        "slug": slug,
    }
    if not SLUG_RE.match(slug):
        return None
    row = fetch_one(_exchange_grant_sql(), params)
    if row is None:
        return None
    reader = RowReader(row)
    attestation_type, holder = reader.take(AttestationType), reader.take(Organisation)
    assert attestation_type is not None
    related_set(attestation_type, "holder", holder)
    habilitation = reader.take(Habilitation)
    if habilitation is not None:
        related_set(habilitation, "attestation_type", attestation_type)
        related_set(habilitation, "consumer", consumer)
    return ExchangeGrant(attestation_type=attestation_type, habilitation=habilitation)
