"""Model fields whose values are encrypted at rest, transparently for the code that uses them.

A value is encrypted when Django prepares it for the database (`get_db_prep_value`, so saves,
updates and compiled inserts alike) and decrypted by the field's `from_db_value` converter, which
Django's compiler runs on every read, compiled statements (core.compiled) included. AES-256-GCM
(core.encryption) under a key derived from `settings.FIELD_ENCRYPTION_KEY` for this purpose; the
column's identity (`app_label.model.field`) is the associated data, so a value copied into another
column does not decrypt. Every write draws a fresh nonce: equal values give different
ciphertexts, so the database can neither compare nor search them, and the fields refuse every
lookup but `isnull`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper

from core.encryption import decrypt, encrypt

PURPOSE = "model-field"


class EncryptedField(models.Field[Any, Any]):
    """The common part; subclasses say how a value becomes bytes and back."""

    empty_values = [None, ""]

    def get_internal_type(self) -> str:
        return "BinaryField"

    def contribute_to_class(self, cls: type[models.Model], name: str, private_only: bool = False) -> None:
        super().contribute_to_class(cls, name, private_only=private_only)
        self.associated_data = f"{cls._meta.label_lower}.{name}".encode()

    def get_lookup(self, lookup_name: str) -> Any:
        # Any other comparison would silently compare ciphertexts and find nothing.
        return super().get_lookup(lookup_name) if lookup_name == "isnull" else None

    def to_bytes(self, value: Any) -> bytes:
        raise NotImplementedError

    def from_bytes(self, data: bytes) -> Any:
        raise NotImplementedError

    def get_db_prep_value(self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False) -> Any:
        if not prepared:
            value = self.get_prep_value(value)
        if value is None:
            return None
        return encrypt(
            self.to_bytes(value),
            purpose=PURPOSE,
            associated_data=self.associated_data,
            secret=settings.FIELD_ENCRYPTION_KEY,
        )

    def from_db_value(self, value: Any, expression: Any, connection: BaseDatabaseWrapper) -> Any:
        if value is None:
            return None
        plaintext = decrypt(
            bytes(value), purpose=PURPOSE, associated_data=self.associated_data, secret=settings.FIELD_ENCRYPTION_KEY
        )
        return self.from_bytes(plaintext)


class EncryptedTextField(EncryptedField):
    def get_prep_value(self, value: Any) -> str | None:
        value = super().get_prep_value(value)
        return None if value is None else str(value)

    def to_python(self, value: Any) -> str | None:
        return None if value is None else str(value)

    def to_bytes(self, value: Any) -> bytes:
        return str(value).encode()

    def from_bytes(self, data: bytes) -> str:
        return data.decode()


class EncryptedDateField(EncryptedField):
    def get_prep_value(self, value: Any) -> dt.date | None:
        return self.to_python(super().get_prep_value(value))

    def to_python(self, value: Any) -> dt.date | None:
        if value is None or (isinstance(value, dt.date) and not isinstance(value, dt.datetime)):
            return value
        return dt.date.fromisoformat(str(value))

    def to_bytes(self, value: Any) -> bytes:
        date: dt.date = value
        return date.isoformat().encode()

    def from_bytes(self, data: bytes) -> dt.date:
        return dt.date.fromisoformat(data.decode())
