"""Demo data of the gateway: an OAuth client for the demo city hall, and a walk-through to paste.

Demo mode only (seed_demo refuses otherwise). The client's id is fixed and its secret derived
from SECRET_KEY, so running seed_demo twice gives the same credentials and can print them again
(a real client's secret is shown once by create_client and only its hash is stored).
"""

from __future__ import annotations

import hashlib
import hmac
from typing import TextIO

from django.conf import settings
from oauth2_provider.models import Application

from gateway.services.clients import client_create
from providers.demo import DEMO_CONSUMER
from providers.models import ApiClient, Organisation

DEMO_CLIENT_ID = "demo-mairie-villeurbanne"
SLUG = "cnaf.quotient-familial"


def demo_client_secret() -> str:
    return hmac.new(settings.SECRET_KEY.encode(), b"gateway/demo-client-secret", hashlib.sha256).hexdigest()


def walkthrough(base: str, client_id: str, secret: str) -> str:
    return f"""
Demo consumer client (Mairie de Villeurbanne): client_id={client_id} client_secret={secret}

# 1. A token for consents and the attestation (client_credentials, 10 minutes)
TOKEN=$(curl -s -u {client_id}:{secret} -d grant_type=client_credentials \\
  -d "scope=consents:read consents:write attestations:{SLUG}" {base}/oauth/token/ | jq -r .access_token)

# 2. Ask the citizen for consent; open the approval_url, log in as a demo citizen, approve
curl -s -H "Authorization: Bearer $TOKEN" -H "Content-Type: application/json" {base}/api/v1/consent-requests \\
  -d '{{"attestation_types": ["{SLUG}"], "purpose": {{"code": "tarification-sociale", "text": "Cantine"}},
       "duration_days": 30}}' | tee /tmp/consent.json
CONSENT=$(jq -r .id /tmp/consent.json)

# 3. After approval: the signed attestation (keys at {base}/.well-known/jwks.json)
curl -s -H "Authorization: Bearer $TOKEN" "{base}/api/v1/attestations/{SLUG}?consent=$CONSENT"

# 4. The citizen revokes it at {base}/mes-consentements/ (or the consumer ends it), then:
curl -s -X DELETE -H "Authorization: Bearer $TOKEN" {base}/api/v1/consents/$CONSENT
curl -s -H "Authorization: Bearer $TOKEN" "{base}/api/v1/attestations/{SLUG}?consent=$CONSENT"  # 403 consent_revoked
"""


def seed(out: TextIO) -> None:
    secret = demo_client_secret()
    application = Application.objects.filter(client_id=DEMO_CLIENT_ID).first()
    if application is None:
        client_create(
            organisation=Organisation.objects.get(code=DEMO_CONSUMER),
            name="Mairie de Villeurbanne (démo)",
            scopes=["consents:read", "consents:write"],
            client_id=DEMO_CLIENT_ID,
            client_secret=secret,
            # The walk-through is a curl session: a secret, not a key.
            token_endpoint_auth_method=ApiClient.AuthMethod.CLIENT_SECRET_BASIC,
        )
    else:
        # Stored hashed: setting it again keeps the printed secret right if SECRET_KEY changed.
        application.client_secret = secret
        application.save(update_fields=["client_secret", "updated"])
    out.write(walkthrough(settings.GATEWAY_BASE_URL, DEMO_CLIENT_ID, secret))
