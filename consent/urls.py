from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from consent import apis
from consent.views import approval, codes, companies, dashboard, history, login, mydata, notifications, objections

app_name = "consent"

urlpatterns: list[URLPattern | URLResolver] = [
    path("api/v1/consent-requests", apis.ConsentRequestCreateApi.as_view(), name="api-consent-request-create"),
    path("api/v1/consents", apis.ConsentListApi.as_view(), name="api-consent-list"),
    path("api/v1/consents/<uuid:consent_id>", apis.ConsentDetailApi.as_view(), name="api-consent-detail"),
    path("api/v1/consents/<uuid:consent_id>/renewal", apis.ConsentRenewalApi.as_view(), name="api-consent-renewal"),
    path(".well-known/webhook-keys", apis.WebhookKeysApi.as_view(), name="webhook-keys"),
    path("connexion/", login.login_page, name="login"),
    path("connexion/demo/", login.demo_login, name="demo-login"),
    path("connexion/franceconnect/", login.oidc_start, name="oidc-start"),
    path("connexion/<slug:provider>/retour/", login.oidc_callback, name="oidc-callback"),
    path("deconnexion/", login.logout, name="logout"),
    path("deconnexion/fin/", login.logout_done, name="logout-done"),
    path("consentements/demandes/<uuid:consent_id>/", approval.approval, name="approval"),
    path("consentements/demandes/<uuid:consent_id>/apercu/", approval.approval_preview, name="approval-preview"),
    path("consentements/demandes/<uuid:consent_id>/accepter/", approval.approval_approve, name="approval-approve"),
    path("consentements/demandes/<uuid:consent_id>/refuser/", approval.approval_reject, name="approval-reject"),
    path("consentements/demandes/<uuid:consent_id>/code/", codes.approval_code, name="approval-code"),
    path("mes-consentements/", dashboard.dashboard, name="dashboard"),
    path("mes-consentements/code/", codes.code_entry, name="code"),
    path("mes-consentements/historique/", history.history, name="history"),
    path("mes-consentements/notifications/", notifications.preferences, name="notifications"),
    path("mes-consentements/mes-donnees/", mydata.my_data, name="my-data"),
    path("mes-consentements/mes-donnees.zip", mydata.archive, name="my-data-archive"),
    path("mes-consentements/historique/<int:event_id>/verification/", mydata.proof_verification, name="proof-check"),
    path("mes-consentements/historique/<int:event_id>/preuve.json", history.proof, name="history-proof"),
    path("mes-consentements/historique/<int:event_id>/signaler/", objections.objection, name="objection"),
    path("entreprises/ajouter/", companies.company_add, name="company-add"),
    path("entreprises/<str:siren>/", companies.company, name="company"),
    path("entreprises/<str:siren>/deleguer/", companies.company_delegate, name="company-delegate"),
    path(
        "entreprises/<str:siren>/delegations/<uuid:mandate_id>/retirer/",
        companies.company_mandate_revoke,
        name="company-mandate-revoke",
    ),
    path(
        "entreprises/<str:siren>/consentements/<uuid:consent_id>/retirer/",
        companies.company_consent_revoke,
        name="company-consent-revoke",
    ),
    path(
        "entreprises/<str:siren>/consentements/<uuid:consent_id>/recu.json",
        companies.company_receipt,
        name="company-receipt",
    ),
    path("entreprises/<str:siren>/historique/", companies.company_history, name="company-history"),
    path(
        "entreprises/<str:siren>/historique/<int:event_id>/preuve.json",
        companies.company_proof,
        name="company-proof",
    ),
    path("mandats/invitation/<str:code>/", companies.invitation, name="invitation"),
    path("mandats/<uuid:mandate_id>/", companies.principal_page, name="principal"),
    path(
        "mandats/<uuid:mandate_id>/consentements/<uuid:consent_id>/retirer/",
        companies.principal_consent_revoke,
        name="principal-consent-revoke",
    ),
    path("mandats/<uuid:mandate_id>/historique/", companies.principal_history, name="principal-history"),
    path(
        "mandats/<uuid:mandate_id>/historique/<int:event_id>/preuve.json",
        companies.principal_proof,
        name="principal-proof",
    ),
    path("mes-consentements/<uuid:consent_id>/", dashboard.detail, name="detail"),
    path("mes-consentements/<uuid:consent_id>/suspendre/", dashboard.pause, name="pause"),
    path("mes-consentements/<uuid:consent_id>/reprendre/", dashboard.resume, name="resume"),
    path("mes-consentements/<uuid:consent_id>/retirer/", dashboard.revoke, name="revoke"),
    path("mes-consentements/<uuid:consent_id>/recu.json", dashboard.receipt, name="receipt"),
    path("mes-consentements/<uuid:consent_id>/recu/", mydata.receipt_page, name="receipt-page"),
]
