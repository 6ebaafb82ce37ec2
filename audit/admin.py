from __future__ import annotations

from django.contrib import admin

from audit.models import AuditEvent, Checkpoint
from core.admin import ReadOnlyAdmin


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["id", "type", "occurred_at", "actor_kind", "actor", "consumer", "provider", "attestation_type"]
    list_filter = ["type", "actor_kind"]
    show_full_result_count = False


@admin.register(Checkpoint)
class CheckpointAdmin(ReadOnlyAdmin):
    list_display = ["tree_size", "created_at"]
    show_full_result_count = False
