"""Encrypted model fields: ciphertext in the database, plain values in Python, no comparisons."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.exceptions import InvalidTag
from django.core.exceptions import FieldError
from django.db import connection

from consent.models import Citizen

pytestmark = pytest.mark.django_db


def _citizen(subject: str, name: str = "Martin") -> Citizen:
    return Citizen.objects.create(
        subject=subject,
        nom_naissance=name,
        prenoms="Alice Marie",
        date_naissance=dt.date(1990, 5, 17),
        sexe="F",
        code_cog_lieu_naissance="69123",
        email="alice@example.fr",
    )


def _raw(citizen: Citizen, column: str) -> bytes:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM consent_citizen WHERE id = %s", [citizen.pk])  # noqa: S608
        return bytes(cursor.fetchone()[0])


class TestEncryptedFields:
    def test_the_database_holds_ciphertext_only(self) -> None:
        citizen = _citizen("sub-1")

        for column, plain in (
            ("nom_naissance", b"Martin"),
            ("prenoms", b"Alice"),
            ("date_naissance", b"1990-05-17"),
            ("code_cog_lieu_naissance", b"69123"),
            ("email", b"alice@example.fr"),
        ):
            assert plain not in _raw(citizen, column), column

    def test_values_come_back_decrypted_through_the_orm(self) -> None:
        citizen = _citizen("sub-2")

        fresh = Citizen.objects.get(pk=citizen.pk)
        assert (fresh.nom_naissance, fresh.prenoms, fresh.date_naissance, fresh.sexe) == (
            "Martin",
            "Alice Marie",
            dt.date(1990, 5, 17),
            "F",
        )
        assert Citizen.objects.filter(pk=citizen.pk).values_list("code_cog_lieu_naissance", flat=True).get() == "69123"

    def test_equal_values_give_different_ciphertexts(self) -> None:
        first, second = _citizen("sub-3"), _citizen("sub-4")

        assert _raw(first, "nom_naissance") != _raw(second, "nom_naissance")

    def test_a_ciphertext_moved_to_another_column_does_not_decrypt(self) -> None:
        citizen = _citizen("sub-5")
        with connection.cursor() as cursor:
            cursor.execute("UPDATE consent_citizen SET prenoms = nom_naissance WHERE id = %s", [citizen.pk])

        with pytest.raises(InvalidTag):
            Citizen.objects.get(pk=citizen.pk)

    def test_a_comparison_on_an_encrypted_field_is_refused(self) -> None:
        with pytest.raises(FieldError):
            list(Citizen.objects.filter(nom_naissance="Martin"))
        assert Citizen.objects.filter(nom_naissance__isnull=True).count() == 0

    def test_none_stays_null(self) -> None:
        citizen = _citizen("sub-6")
        Citizen.objects.filter(pk=citizen.pk).update(nom_naissance=None)

        assert Citizen.objects.get(pk=citizen.pk).nom_naissance is None
