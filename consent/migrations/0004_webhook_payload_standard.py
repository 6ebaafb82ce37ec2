"""Deliveries written before the Standard Webhooks format go out in it: their stored payload (what
is sent) moves to `type`, `timestamp`, `data`. The id now travels only in the `webhook-id` header."""

from __future__ import annotations

from typing import Any

from django.apps.registry import Apps
from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor


def to_standard(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    WebhookDelivery = apps.get_model("consent", "WebhookDelivery")
    for delivery in WebhookDelivery.objects.filter(payload__has_key="occurred_at").select_related("organisation"):
        old: dict[str, Any] = delivery.payload
        delivery.payload = {
            "type": old["type"],
            "timestamp": old["occurred_at"],
            "data": {"consent": old["consent"], "consumer": old["consumer"], "recipient": delivery.organisation.siret},
        }
        delivery.save(update_fields=["payload"])


def to_former(apps: Apps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    WebhookDelivery = apps.get_model("consent", "WebhookDelivery")
    for delivery in WebhookDelivery.objects.filter(payload__has_key="data"):
        new: dict[str, Any] = delivery.payload
        delivery.payload = {
            "id": str(delivery.pk),
            "type": new["type"],
            "occurred_at": new["timestamp"],
            "consent": new["data"]["consent"],
            "consumer": new["data"]["consumer"],
        }
        delivery.save(update_fields=["payload"])


class Migration(migrations.Migration):
    dependencies = [
        ("consent", "0003_webhook_delivery"),
    ]

    operations = [
        migrations.RunPython(to_standard, to_former),
    ]
