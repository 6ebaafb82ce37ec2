"""The one interface through which the gateway reaches a provider, whatever its transport.

Every adapter kind lives in its own module next to this one and subclasses `Adapter`. An adapter
returns only the fields it was asked for and maps every failure to one of the stable errors
`SubjectNotFound`, `ProviderTimeout` or `ProviderError` (core.errors), never leaking the
provider's own messages.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Subject:
    """The citizen's pivot identity, as FranceConnect passes it to providers."""

    nom_naissance: str
    prenoms: tuple[str, ...]
    date_naissance: dt.date
    sexe: str
    code_cog_lieu_naissance: str

    def as_json(self) -> dict[str, Any]:
        return {
            "nom_naissance": self.nom_naissance,
            "prenoms": list(self.prenoms),
            "date_naissance": self.date_naissance.isoformat(),
            "sexe": self.sexe,
            "code_cog_lieu_naissance": self.code_cog_lieu_naissance,
        }


@dataclass(frozen=True)
class CompanySubject:
    """A company, as API Entreprise names it: the SIREN of the legal unit and the SIRET of the
    establishment the consent names (public data, unlike a person's identity)."""

    siren: str
    siret: str

    def as_json(self) -> dict[str, Any]:
        return {"siren": self.siren, "siret": self.siret}


AnySubject = Subject | CompanySubject


@dataclass(frozen=True)
class Target:
    """What an adapter knows of the attestation type it serves (read with the exchange's grant, or
    from an AttestationType by `AttestationType.target`)."""

    type_id: int
    slug: str
    holder_code: str
    kind: str
    base_url: str = ""
    timeout_ms: int = 5000
    # The environment variable holding the bearer token the provider expects, if any.
    token_env: str = ""
    # The JSON Schema of each of the type's fields, by name, read with the target for the adapter
    # kinds that check a provider's answer (`Adapter.checks_field_schemas`); empty for the others.
    field_schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, hash=False)


@dataclass(frozen=True)
class FetchContext:
    purpose: str
    consumer_siret: str
    exchange_id: uuid.UUID
    # True when the citizen previews their own data: nothing is delivered to a consumer.
    preview: bool = False


@dataclass(frozen=True)
class ProviderResult:
    fields: dict[str, Any]
    issued_at: dt.datetime
    provider_reference: str
    # Time spent waiting for the provider, for the exchange record.
    duration_ms: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


class Adapter:
    kind: str = ""
    # Whether `fetch` checks the provider's values against `Target.field_schemas`: the readers of
    # a target load the schemas only for these kinds.
    checks_field_schemas: bool = False

    def __init__(self, target: Target) -> None:
        self.target = target

    def fetch(self, subject: AnySubject, fields: Sequence[str], context: FetchContext) -> ProviderResult:
        raise NotImplementedError
