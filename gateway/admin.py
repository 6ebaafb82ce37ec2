from __future__ import annotations

from django.contrib import admin
from oauth2_provider.admin import ApplicationAdmin
from oauth2_provider.models import Application

from core.admin import ReadOnlyAdmin
from gateway.models import Exchange


class GatewayApplicationAdmin(ApplicationAdmin):
    """DOT's admin without `skip_authorization`: the citizen always sees the consent screen (the
    database refuses the flag as well, see migration 0003). Clients are created with
    `manage.py create_client`, which links them to their organisation."""

    exclude = ("skip_authorization",)
    list_filter = ("client_type", "authorization_grant_type")


admin.site.unregister(Application)
admin.site.register(Application, GatewayApplicationAdmin)


@admin.register(Exchange)
class ExchangeAdmin(ReadOnlyAdmin):
    """Read only: an exchange is a record, the trail has its audit event."""

    list_display = ("id", "created_at", "consumer", "attestation_type", "status", "error_code", "duration_ms")
    list_filter = ("status", "is_async", "attestation_type")
    list_select_related = ("consumer", "attestation_type")
    search_fields = ("id", "client_id")
