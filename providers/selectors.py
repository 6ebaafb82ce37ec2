"""Reads of the providers app: the public catalogue and the habilitations in force."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet
from django.utils import timezone

from gateway.errors import NotFound
from providers.models import AttestationField, AttestationType, Habilitation, Organisation


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
    attestation_type = _catalogue().filter(slug=slug).first()
    if attestation_type is None:
        raise NotFound("No attestation type has this slug.")
    return attestation_type
