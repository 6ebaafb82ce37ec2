from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from providers import apis, views

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/catalogue/attestation-types", apis.CatalogueListApi.as_view(), name="catalogue-api-list"),
    path(
        "api/v1/catalogue/attestation-types/<str:slug>",
        apis.CatalogueDetailApi.as_view(),
        name="catalogue-api-detail",
    ),
    path("catalogue/", views.catalogue_page, name="catalogue"),
    path("catalogue/<str:slug>/", views.attestation_type_page, name="catalogue-type"),
]
