from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from audit import apis, views

app_name = "audit"

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/audit/checkpoint", apis.CheckpointApi.as_view(), name="api-checkpoint"),
    path("api/v1/audit/public-key", apis.PublicKeyApi.as_view(), name="api-public-key"),
    path("api/v1/audit/proofs/inclusion", apis.InclusionProofApi.as_view(), name="api-inclusion-proof"),
    path("api/v1/audit/proofs/consistency", apis.ConsistencyProofApi.as_view(), name="api-consistency-proof"),
    path("api/v1/audit/verifier.pyz", apis.VerifierApi.as_view(), name="api-verifier"),
    path("api/v1/audit/events", apis.EventsApi.as_view(), name="api-events"),
    path("api/v1/stats/exchanges", apis.ExchangeStatsApi.as_view(), name="api-stats-exchanges"),
    path("audit/console/login/", views.console_login, name="console-login"),
    path("audit/console/logout/", views.console_logout, name="console-logout"),
    path("audit/console/", views.console, name="console"),
    path("audit/console/export.csv", views.console_export_csv, name="console-export-csv"),
    path("audit/console/export.jsonl", views.console_export_jsonl, name="console-export-jsonl"),
    path("audit/console/objections/", views.objections, name="objections"),
    path("audit/console/objections/<uuid:objection_id>/", views.objection, name="objection"),
]
