"""Moves the asynchronous results still waiting to be collected to consent.HeldResult."""

from django.db import migrations


def copy_held_results(apps, schema_editor):
    Exchange = apps.get_model("gateway", "Exchange")
    HeldResult = apps.get_model("consent", "HeldResult")
    waiting = Exchange.objects.filter(result_ciphertext__isnull=False, consent__isnull=False)
    HeldResult.objects.bulk_create(
        HeldResult(
            exchange_id=exchange.pk,
            consent_id=exchange.consent_id,
            ciphertext=exchange.result_ciphertext,
            expires_at=exchange.result_expires_at,
        )
        for exchange in waiting.iterator()
        if exchange.result_expires_at is not None
    )


def copy_back(apps, schema_editor):
    Exchange = apps.get_model("gateway", "Exchange")
    HeldResult = apps.get_model("consent", "HeldResult")
    for held in HeldResult.objects.iterator():
        Exchange.objects.filter(pk=held.exchange_id).update(
            result_ciphertext=held.ciphertext, result_expires_at=held.expires_at
        )


class Migration(migrations.Migration):
    dependencies = [
        ("gateway", "0004_exchange_claim"),
        ("consent", "0006_held_result"),
    ]

    operations = [migrations.RunPython(copy_held_results, copy_back)]
