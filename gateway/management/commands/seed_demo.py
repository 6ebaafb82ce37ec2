from __future__ import annotations

import importlib
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

# Each app adds its demo data in `<app>/demo.py: seed(out)`, in dependency order. Every seeder is
# idempotent: running seed_demo twice leaves the same data.
SEEDERS = ["providers.demo", "consent.demo", "gateway.demo"]


class Command(BaseCommand):
    help = "Adds the demo administrations, catalogue, clients and citizens (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEMO_MODE:
            raise CommandError("seed_demo only runs in demo mode (GATEWAY_DEMO=1).")
        for module_name in SEEDERS:
            module = importlib.import_module(module_name)
            with transaction.atomic():
                module.seed(self.stdout)
        self.stdout.write(self.style.SUCCESS("Demo data is ready."))
        self.stdout.write(f"Open {settings.GATEWAY_BASE_URL}/ — API docs at {settings.GATEWAY_BASE_URL}/api/v1/docs/")
