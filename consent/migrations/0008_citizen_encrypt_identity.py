"""Copies each citizen's pivot identity into the encrypted columns (data only; see 0007, 0009)."""

from django.db import migrations

PIVOT = ("nom_naissance", "prenoms", "date_naissance", "sexe", "code_cog_lieu_naissance")


def encrypt_identities(apps, schema_editor):
    Citizen = apps.get_model("consent", "Citizen")
    for citizen in Citizen.objects.all().iterator(chunk_size=500):
        for name in PIVOT:
            setattr(citizen, name, getattr(citizen, f"{name}_plain"))
        citizen.save(update_fields=list(PIVOT))


def decrypt_identities(apps, schema_editor):
    Citizen = apps.get_model("consent", "Citizen")
    for citizen in Citizen.objects.all().iterator(chunk_size=500):
        for name in PIVOT:
            setattr(citizen, f"{name}_plain", getattr(citizen, name) or "")
        citizen.save(update_fields=[f"{name}_plain" for name in PIVOT])


class Migration(migrations.Migration):

    dependencies = [
        ("consent", "0007_citizen_issuer_encrypted_identity"),
    ]

    operations = [migrations.RunPython(encrypt_identities, decrypt_identities)]
