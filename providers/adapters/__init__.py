"""Provider adapters, one module per kind, all on `providers.adapters.base.Adapter`."""

from __future__ import annotations

from core.errors import ProviderError
from providers.adapters.base import Adapter, Target
from providers.adapters.demo import DemoAdapter
from providers.adapters.http import HttpAdapter
from providers.models import AttestationType

ADAPTERS: dict[str, type[Adapter]] = {DemoAdapter.kind: DemoAdapter, HttpAdapter.kind: HttpAdapter}
# The adapter kinds whose targets carry the fields' schemas (`Adapter.checks_field_schemas`).
KINDS_CHECKING_FIELD_SCHEMAS = tuple(sorted(kind for kind, adapter in ADAPTERS.items() if adapter.checks_field_schemas))


def adapter_for(target: Target) -> Adapter:
    """The adapter configured for an attestation type (its adapter kind)."""
    adapter_class = ADAPTERS.get(target.kind)
    if adapter_class is None:
        raise ProviderError("No adapter is configured for this attestation type.")
    return adapter_class(target)


def target_for(attestation_type: AttestationType) -> Target:
    """What the adapter of a loaded attestation type needs (its holder loaded too, and its fields
    read here unless prefetched, for the kinds that check them)."""
    checks = attestation_type.adapter_kind in KINDS_CHECKING_FIELD_SCHEMAS
    return Target(
        type_id=attestation_type.pk,
        slug=attestation_type.slug,
        holder_code=attestation_type.holder.code,
        kind=attestation_type.adapter_kind,
        base_url=attestation_type.adapter_base_url,
        timeout_ms=attestation_type.adapter_timeout_ms,
        token_env=attestation_type.adapter_token_env,
        field_schemas={field.name: field.json_schema() for field in attestation_type.fields.all()} if checks else {},
    )


__all__ = ["ADAPTERS", "KINDS_CHECKING_FIELD_SCHEMAS", "Adapter", "Target", "adapter_for", "target_for"]
