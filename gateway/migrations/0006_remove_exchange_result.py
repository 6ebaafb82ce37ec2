from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("gateway", "0005_held_results_copy"),
    ]

    operations = [
        migrations.RemoveField(model_name="exchange", name="result_ciphertext"),
        migrations.RemoveField(model_name="exchange", name="result_expires_at"),
    ]
