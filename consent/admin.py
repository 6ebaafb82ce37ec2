from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from consent.models import Company, Consent, ConsentItem, Mandate, RegisterCheck, WebhookDelivery
from core.admin import ReadOnlyAdmin


class ConsentItemInline(admin.TabularInline[ConsentItem, Consent]):
    model = ConsentItem
    fields = ["attestation_type", "fields", "habilitation"]
    readonly_fields = ["attestation_type", "fields", "habilitation"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Consent)
class ConsentAdmin(ReadOnlyAdmin):
    list_display = ["id", "consumer", "status", "purpose_code", "created_at", "valid_until"]
    list_filter = ["status"]
    list_select_related = ["consumer"]
    search_fields = ["id", "reference"]
    # The citizen is left out on purpose: operators see consents, not who gave them.
    exclude = ["citizen", "idempotency_key", "request_fingerprint"]
    inlines = [ConsentItemInline]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["id", "event_type", "organisation", "status", "attempts", "last_status_code", "last_error_code"]
    list_filter = ["status", "event_type"]
    list_select_related = ["organisation"]
    search_fields = ["id", "consent__id"]


@admin.register(Company)
class CompanyAdmin(admin.ModelAdmin[Company]):
    """Operators keep the companies the gateway knows in step with the companies register."""

    list_display = ["name", "siret", "siren", "closed"]
    list_filter = ["closed"]
    search_fields = ["name", "siret", "siren"]


@admin.register(Mandate)
class MandateAdmin(ReadOnlyAdmin):
    """Read-only: mandates change only through their services, each change audited (legal mandates
    are recorded with `manage.py record_legal_mandate`)."""

    list_display = ["id", "kind", "principal_company", "status", "valid_until", "created_at"]
    list_filter = ["kind", "status"]
    list_select_related = ["principal_company"]
    # The people are left out, as on consents: operators see mandates, not who holds them.
    exclude = ["principal_citizen", "agent", "granted_by", "invitation_hash"]


@admin.register(RegisterCheck)
class RegisterCheckAdmin(ReadOnlyAdmin):
    list_display = ["id", "company", "listed", "checked_at"]
    list_select_related = ["company"]
    exclude = ["citizen"]
