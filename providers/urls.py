from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from providers import apis
from providers.views import agents, catalogue

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/catalogue/attestation-types", apis.CatalogueListApi.as_view(), name="catalogue-api-list"),
    path(
        "api/v1/catalogue/attestation-types/<str:slug>",
        apis.CatalogueDetailApi.as_view(),
        name="catalogue-api-detail",
    ),
    path("catalogue/", catalogue.catalogue_page, name="catalogue"),
    path("catalogue/<str:slug>/", catalogue.attestation_type_page, name="catalogue-type"),
    path("agents/", agents.space, name="agent-space"),
    path("agents/connexion/", agents.login_page, name="agent-login"),
    path("agents/connexion/proconnect/", agents.proconnect_start, name="agent-login-start"),
    path("agents/connexion/retour/", agents.proconnect_callback, name="agent-login-callback"),
    path("agents/connexion/demo/", agents.demo_login, name="agent-demo-login"),
    path("agents/deconnexion/", agents.logout, name="agent-logout"),
    path("agents/deconnexion/fin/", agents.logout_done, name="agent-logout-done"),
]
