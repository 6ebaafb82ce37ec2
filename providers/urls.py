from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from providers import apis
from providers.views import agents, catalogue, habilitations, members

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/catalogue/attestation-types", apis.CatalogueListApi.as_view(), name="catalogue-api-list"),
    path(
        "api/v1/catalogue/attestation-types/<str:slug>",
        apis.CatalogueDetailApi.as_view(),
        name="catalogue-api-detail",
    ),
    path("catalogue/", catalogue.catalogue_page, name="catalogue"),
    path("catalogue/<str:slug>/", catalogue.attestation_type_page, name="catalogue-type"),
    path("statistiques/", catalogue.statistics, name="statistics"),
    path("agents/", agents.space, name="agent-space"),
    path("agents/connexion/", agents.login_page, name="agent-login"),
    path("agents/connexion/proconnect/", agents.proconnect_start, name="agent-login-start"),
    path("agents/connexion/retour/", agents.proconnect_callback, name="agent-login-callback"),
    path("agents/connexion/demo/", agents.demo_login, name="agent-demo-login"),
    path("agents/deconnexion/", agents.logout, name="agent-logout"),
    path("agents/deconnexion/fin/", agents.logout_done, name="agent-logout-done"),
    path("agents/membres/", members.members, name="portal-members"),
    path("agents/membres/<uuid:agent_id>/roles/", members.member_role, name="portal-member-role"),
    path("agents/habilitations/", habilitations.habilitation_list, name="portal-habilitations"),
    path("agents/habilitations/demande/<str:slug>/", habilitations.habilitation_new, name="portal-habilitation-new"),
    path("agents/habilitations/<uuid:habilitation_id>/", habilitations.habilitation_detail, name="portal-habilitation"),
    path(
        "agents/habilitations/<uuid:habilitation_id>/modifier/",
        habilitations.habilitation_edit,
        name="portal-habilitation-edit",
    ),
    path(
        "agents/habilitations/<uuid:habilitation_id>/soumettre/",
        habilitations.habilitation_submit_draft,
        name="portal-habilitation-submit",
    ),
    path(
        "agents/habilitations/<uuid:habilitation_id>/decision/",
        habilitations.habilitation_review,
        name="portal-habilitation-review",
    ),
    path(
        "agents/habilitations/<uuid:habilitation_id>/revocation/",
        habilitations.habilitation_revoke_view,
        name="portal-habilitation-revoke",
    ),
    path(
        "agents/habilitations/<uuid:habilitation_id>/prolongation/",
        habilitations.habilitation_extension,
        name="portal-habilitation-extension",
    ),
    path(
        "agents/habilitations/<uuid:habilitation_id>/prolongation/decision/",
        habilitations.habilitation_extension_decision,
        name="portal-habilitation-extension-decision",
    ),
]
