from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("gateway", "0003_application_never_skips_authorization"),
    ]

    operations = [
        migrations.AddField(
            model_name="exchange",
            name="claimed_until",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="exchange",
            index=models.Index(
                condition=models.Q(("is_async", True), ("status", "pending")),
                fields=["created_at"],
                name="exchange_pending",
            ),
        ),
    ]
