"""Provider adapters, one module per kind, all on `providers.adapters.base.Adapter`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.errors import ProviderError
from providers.adapters.base import Adapter
from providers.adapters.demo import DemoAdapter
from providers.adapters.http import HttpAdapter

if TYPE_CHECKING:
    from providers.models import AttestationType

ADAPTERS: dict[str, type[Adapter]] = {DemoAdapter.kind: DemoAdapter, HttpAdapter.kind: HttpAdapter}


def adapter_for(attestation_type: AttestationType) -> Adapter:
    """The adapter configured for `attestation_type` (its `adapter_kind`)."""
    adapter_class = ADAPTERS.get(attestation_type.adapter_kind)
    if adapter_class is None:
        raise ProviderError("No adapter is configured for this attestation type.")
    return adapter_class(attestation_type)


__all__ = ["ADAPTERS", "Adapter", "adapter_for"]
