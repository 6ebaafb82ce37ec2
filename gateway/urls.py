from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from gateway import apis, views
from gateway.oauth import endpoints
from gateway.oauth import views as gateway_oauth_views

handler404 = "gateway.views.handler404"
handler500 = "gateway.views.handler500"

# Only the endpoints of the v1 contract are mounted: no self-service application registration,
# no token management pages.
oauth_patterns = [
    path("authorize/", gateway_oauth_views.GatewayAuthorizationView.as_view(), name="authorize"),
    path("token/", endpoints.GatewayTokenView.as_view(), name="token"),
    path("revoke_token/", endpoints.GatewayRevokeTokenView.as_view(), name="revoke-token"),
    path("introspect/", endpoints.GatewayIntrospectView.as_view(), name="introspect"),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("mentions-legales/", views.page, {"name": "legal"}, name="legal"),
    path("donnees-personnelles/", views.page, {"name": "personal-data"}, name="personal-data"),
    path("accessibilite/", views.page, {"name": "accessibility"}, name="accessibility"),
    path("aide/", views.page, {"name": "help"}, name="help"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path(".well-known/jwks.json", views.jwks_view, name="jwks"),
    path(
        ".well-known/oauth-authorization-server",
        gateway_oauth_views.AuthorizationServerMetadataView.as_view(),
        name="oauth-server-metadata",
    ),
    path("oauth/", include((oauth_patterns, "oauth2_provider"))),
    # Only well-formed slugs reach the view: anything else (a NUL byte, say) is a plain 404 and
    # never a value the database or the trail would have to hold.
    re_path(
        r"^api/v1/attestations/(?P<slug>[a-z0-9-]+\.[a-z0-9-]+)$",
        apis.AttestationGetApi.as_view(),
        name="attestation-get",
    ),
    path("api/v1/exchanges", apis.ExchangeCreateApi.as_view(), name="exchange-create"),
    path("api/v1/exchanges/<uuid:exchange_id>", apis.ExchangeGetApi.as_view(), name="exchange-get"),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="api-docs"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("", include("providers.urls")),
    path("", include("consent.urls")),
    path("", include("audit.urls")),
]
