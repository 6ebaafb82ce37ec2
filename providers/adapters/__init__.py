"""Provider adapters, one module per kind, all on `providers.adapters.base.Adapter`."""

from __future__ import annotations

from core.errors import ProviderError
from providers.adapters.base import Adapter, Target
from providers.adapters.demo import DemoAdapter
from providers.adapters.http import HttpAdapter
from providers.models import AttestationType

ADAPTERS: dict[str, type[Adapter]] = {DemoAdapter.kind: DemoAdapter, HttpAdapter.kind: HttpAdapter}


def adapter_for(target: Target) -> Adapter:
    """The adapter configured for an attestation type (its adapter kind)."""
    adapter_class = ADAPTERS.get(target.kind)
    if adapter_class is None:
        raise ProviderError("No adapter is configured for this attestation type.")
    return adapter_class(target)


def target_for(attestation_type: AttestationType) -> Target:
    """What the adapter of a loaded attestation type needs (its holder loaded too)."""
    return Target(
        type_id=attestation_type.pk,
        slug=attestation_type.slug,
        holder_code=attestation_type.holder.code,
        kind=attestation_type.adapter_kind,
        base_url=attestation_type.adapter_base_url,
        timeout_ms=attestation_type.adapter_timeout_ms,
        token_env=attestation_type.adapter_token_env,
    )


__all__ = ["ADAPTERS", "Adapter", "Target", "adapter_for", "target_for"]
