"""The citizen always sees the consent screen: no OAuth client may ever skip it.

django-oauth-toolkit's Application has a `skip_authorization` flag; the database refuses it here,
so neither the admin, a shell nor a future view can set it (the validator refuses such a client too).
"""

from django.db import migrations

CONSTRAINT = "gateway_application_never_skips_authorization"


def forwards(apps, schema_editor):
    table = "oauth2_provider_application"
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"UPDATE {table} SET skip_authorization = false WHERE skip_authorization")
        schema_editor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {CONSTRAINT} CHECK (NOT skip_authorization)")
    elif schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(f"UPDATE {table} SET skip_authorization = 0 WHERE skip_authorization")
        for operation in ("INSERT", "UPDATE"):
            schema_editor.execute(
                f"CREATE TRIGGER {CONSTRAINT}_{operation.lower()} BEFORE {operation} ON {table} "
                f"WHEN NEW.skip_authorization BEGIN SELECT RAISE(ABORT, '{CONSTRAINT}'); END"
            )


def backwards(apps, schema_editor):
    table = "oauth2_provider_application"
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {CONSTRAINT}")
    elif schema_editor.connection.vendor == "sqlite":
        for operation in ("insert", "update"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS {CONSTRAINT}_{operation}")


class Migration(migrations.Migration):
    dependencies = [
        ("gateway", "0002_authorization_codes_idempotency"),
        ("oauth2_provider", "0022_refreshtoken_token_family_index"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
