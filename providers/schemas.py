"""JSON Schemas of delivered attestations, derived from the catalogue's fields.

Each field carries its own schema (`AttestationField.json_schema()`); the document a consumer
receives is an object of exactly the fields it asked for. Providers' answers are checked field by
field against the same schemas before anything is passed on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker

from providers.models import AttestationField

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def delivered_schema(fields: Iterable[AttestationField]) -> dict[str, Any]:
    """The schema of a delivered `fields` object holding exactly `fields`."""
    fields = list(fields)
    return {
        "$schema": JSON_SCHEMA_DIALECT,
        "type": "object",
        "properties": {field.name: field.json_schema() for field in fields},
        "required": [field.name for field in fields],
        "additionalProperties": False,
    }


# Only "date" is checked among formats: it is the one the catalogue uses, and "date-time" would
# need an extra package.
@lru_cache(maxsize=512)
def _validator(schema_json: str) -> Draft202012Validator:
    # Keyed by the schema's canonical text so that a schema edited in the admin is picked up.
    return Draft202012Validator(json.loads(schema_json), format_checker=FormatChecker(formats=("date",)))


def value_is_valid(schema: Mapping[str, Any], value: Any) -> bool:
    return bool(_validator(json.dumps(schema, sort_keys=True)).is_valid(value))
