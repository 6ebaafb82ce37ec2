"""The `auditor` role: staff users in this group may use the auditor console."""

from django.db import migrations

AUDITOR_GROUP = "auditor"


def create_group(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.get_or_create(name=AUDITOR_GROUP)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_append_only_triggers"), ("auth", "0012_alter_user_first_name_max_length")]

    operations = [migrations.RunPython(create_group, migrations.RunPython.noop)]
