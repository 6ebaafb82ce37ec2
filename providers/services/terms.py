"""The terms of a habilitation request, checked against what its attestation type offers: one
check for the API, the demo data and the portal's drafts and submissions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email

from core.errors import ValidationError
from providers.models import AttestationType, Organisation, validate_return_url_origins

MAX_RETENTION_DAYS = 3650
MAX_TEXT_LENGTH = 2000
MAX_EXPECTED_VOLUME = 100_000_000


def validated_terms(
    *,
    consumer: Organisation,
    attestation_type: AttestationType,
    complete: bool,
    fields: Sequence[str] = (),
    purpose_code: str = "",
    purpose_text: str = "",
    legal_basis: str = "",
    legal_basis_reference: str = "",
    retention_days: int | None = None,
    dpo_name: str = "",
    dpo_email: str = "",
    expected_volume: int | None = None,
    return_url_origins: Sequence[str] = (),
) -> dict[str, Any]:
    """The terms as stored, or ValidationError naming each wrong field. A draft (`complete` False)
    may leave any out; what it gives must still be what the type offers."""
    errors: dict[str, str] = {}
    if not consumer.active:
        errors["consumer"] = "The consumer organisation is not active."
    if consumer.pk == attestation_type.holder_id:
        errors["consumer"] = "An organisation does not need a habilitation for its own data."
    if not attestation_type.active:
        errors["attestation_type"] = "This attestation type is not offered."
    known = [field.name for field in attestation_type.fields.all()]
    if isinstance(fields, str) or not isinstance(fields, Sequence) or not all(isinstance(f, str) for f in fields):
        errors["fields"] = "A list of field names."
        chosen: list[str] = []
    else:
        chosen = list(dict.fromkeys(fields))
        unknown = sorted(set(chosen) - set(known))
        if not chosen and complete:
            errors["fields"] = "Choose at least one field."
        elif unknown:
            errors["fields"] = f"Unknown field(s) for this attestation type: {', '.join(unknown)}."
    if not isinstance(purpose_code, str) or (
        (purpose_code or complete) and purpose_code not in attestation_type.purpose_codes
    ):
        errors["purpose_code"] = "Not a purpose this attestation type accepts."
    texts = {
        "purpose_text": (purpose_text, True),
        "legal_basis": (legal_basis, True),
        "legal_basis_reference": (legal_basis_reference, False),
        # Optional here for the API's callers of old; the portal's form asks for it.
        "dpo_name": (dpo_name, False),
    }
    for name, (text, required) in texts.items():
        if not isinstance(text, str):
            errors[name] = "Text expected."
        elif required and complete and not text.strip():
            errors[name] = "Required."
        elif len(text) > MAX_TEXT_LENGTH:
            errors[name] = f"At most {MAX_TEXT_LENGTH} characters."
    for name, number, most in (
        ("retention_days", retention_days, MAX_RETENTION_DAYS),
        ("expected_volume", expected_volume, MAX_EXPECTED_VOLUME),
    ):
        if number is None:
            if complete and name == "retention_days":
                errors[name] = "Required."
        elif isinstance(number, bool) or not isinstance(number, int) or number <= 0:
            errors[name] = "A positive whole number."
        elif number > most:
            errors[name] = f"At most {most}."
    if dpo_email or complete:
        try:
            validate_email(dpo_email)
        except DjangoValidationError:
            errors["dpo_email"] = "A valid email address."
    origins = list(return_url_origins) if isinstance(return_url_origins, (list, tuple)) else return_url_origins
    try:
        validate_return_url_origins(origins)
    except DjangoValidationError as error:
        errors["return_url_origins"] = " ".join(error.messages)
    if errors:
        raise ValidationError("The habilitation request is not valid.", errors=errors)
    # Stored in the catalogue's order, whatever order they were asked in.
    return {
        "fields": [name for name in known if name in chosen],
        "purpose_code": purpose_code,
        "purpose_text": purpose_text.strip(),
        "legal_basis": legal_basis.strip(),
        "legal_basis_reference": legal_basis_reference.strip(),
        "retention_days": retention_days,
        "dpo_name": dpo_name.strip(),
        "dpo_email": dpo_email,
        "expected_volume": expected_volume,
        "return_url_origins": origins,
    }
