"""Citizens are identified by (issuer, subject); their pivot identity moves to encrypted columns.

The plain columns are renamed `*_plain` here, copied into the encrypted ones by 0008 and dropped
by 0009.
"""

import core.fields
from django.db import migrations, models

PIVOT = ("nom_naissance", "prenoms", "date_naissance", "sexe", "code_cog_lieu_naissance")


class Migration(migrations.Migration):

    dependencies = [
        ("consent", "0006_held_result"),
    ]

    operations = [
        migrations.AddField(
            model_name="citizen",
            name="issuer",
            field=models.CharField(blank=True, default="", max_length=255),
        ),
        migrations.AlterField(
            model_name="citizen",
            name="subject",
            field=models.CharField(max_length=255),
        ),
        migrations.AddConstraint(
            model_name="citizen",
            constraint=models.UniqueConstraint(fields=("issuer", "subject"), name="citizen_issuer_subject"),
        ),
        *(migrations.RenameField(model_name="citizen", old_name=name, new_name=f"{name}_plain") for name in PIVOT),
        migrations.AddField(
            model_name="citizen",
            name="nom_naissance",
            field=core.fields.EncryptedTextField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="citizen",
            name="prenoms",
            field=core.fields.EncryptedTextField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="citizen",
            name="date_naissance",
            field=core.fields.EncryptedDateField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="citizen",
            name="sexe",
            field=core.fields.EncryptedTextField(blank=True, choices=[("F", "Female"), ("M", "Male")], null=True),
        ),
        migrations.AddField(
            model_name="citizen",
            name="code_cog_lieu_naissance",
            field=core.fields.EncryptedTextField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="citizen",
            name="email",
            field=core.fields.EncryptedTextField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="citizen",
            name="identity_erased_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="citizen",
            name="session_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="citizen",
            index=models.Index(
                condition=models.Q(("identity_erased_at__isnull", True)), fields=["session_until"], name="citizen_held"
            ),
        ),
    ]
