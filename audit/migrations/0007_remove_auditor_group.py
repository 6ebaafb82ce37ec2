"""The auditor console is for agents with the auditor role now (core.roles), not a Django group."""

from django.db import migrations

AUDITOR_GROUP = "auditor"


def remove_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name=AUDITOR_GROUP).delete()


def create_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name=AUDITOR_GROUP)


class Migration(migrations.Migration):
    dependencies = [("audit", "0006_identity_events")]

    operations = [migrations.RunPython(remove_group, create_group)]
