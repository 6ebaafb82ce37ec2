from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from gateway import apis, views
from gateway.oauth import endpoints, par
from gateway.oauth import views as gateway_oauth_views
from gateway.portal import clients as portal_clients
from gateway.portal import operations as portal_operations
from gateway.portal import provider as portal_provider
from gateway.portal import webhooks as portal_webhooks

handler400 = "gateway.views.handler400"
handler403 = "gateway.views.handler403"
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
# RFC 9126 names no trailing slash; the design's v1 contract lists /oauth/par.
oauth_patterns += [
    path("par", par.PushedAuthorizationRequestView.as_view(), name="par"),
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
    path("api/v1/errors/", apis.ErrorCatalogueApi.as_view(), name="error-catalogue"),
    path("api/v1/errors/<str:code>", apis.ErrorDetailApi.as_view(), name="error-detail"),
    path("api/v1/schema/", SpectacularAPIView.as_view(), name="schema"),
    # Swagger UI from our own static files (drf-spectacular-sidecar), its start-up script served
    # apart: the Content-Security-Policy allows no inline script.
    path(
        "api/v1/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="gateway/swagger_ui.html"),
        name="api-docs",
    ),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("agents/clients/", portal_clients.client_list, name="portal-clients"),
    path("agents/clients/nouveau/", portal_clients.client_new, name="portal-client-new"),
    path("agents/clients/<int:api_client_id>/", portal_clients.client_detail, name="portal-client"),
    path("agents/clients/<int:api_client_id>/secret/", portal_clients.client_rotate, name="portal-client-rotate"),
    path(
        "agents/clients/<int:api_client_id>/redirections/",
        portal_clients.client_redirect_uris,
        name="portal-client-redirect-uris",
    ),
    path(
        "agents/clients/<int:api_client_id>/desactivation/",
        portal_clients.client_disable_view,
        name="portal-client-disable",
    ),
    path("agents/webhooks/", portal_webhooks.webhooks, name="portal-webhooks"),
    path("agents/webhooks/adresse/", portal_webhooks.webhook_endpoint, name="portal-webhook-endpoint"),
    path("agents/webhooks/cle/", portal_webhooks.webhook_key_rotate, name="portal-webhook-key"),
    path(
        "agents/webhooks/<uuid:delivery_id>/renvoi/",
        portal_webhooks.webhook_redeliver_view,
        name="portal-webhook-redeliver",
    ),
    path("agents/operations/", portal_operations.operations, name="portal-operations"),
    path("agents/integration/", portal_operations.integration, name="portal-integration"),
    path("agents/fournisseur/", portal_provider.provider_page, name="portal-provider"),
    path(
        "agents/fournisseur/<str:slug>/retrait/",
        portal_provider.attestation_type_withdraw_view,
        name="portal-type-withdraw",
    ),
    path("", include("providers.urls")),
    path("", include("consent.urls")),
    path("", include("audit.urls")),
]
