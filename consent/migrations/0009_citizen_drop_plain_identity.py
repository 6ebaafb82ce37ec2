"""Drops the plain copies of the pivot identity (0008 encrypted them)."""

from django.db import migrations

PIVOT = ("nom_naissance", "prenoms", "date_naissance", "sexe", "code_cog_lieu_naissance")


class Migration(migrations.Migration):

    dependencies = [
        ("consent", "0008_citizen_encrypt_identity"),
    ]

    operations = [migrations.RemoveField(model_name="citizen", name=f"{name}_plain") for name in PIVOT]
