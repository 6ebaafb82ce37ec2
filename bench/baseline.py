"""The yardstick of the exchange benchmark: a minimal Django view that makes the same number of
database round trips as one exchange and one Ed25519 signature, and nothing else.

The exchange must reach at least half this view's throughput (DESIGN.md, Targets).
"""

from __future__ import annotations

import os

from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse

from gateway.keys import sign_jws

# Measured by bench/run.py from a real exchange (CaptureQueriesContext) and passed in the env.
ROUND_TRIPS = int(os.environ.get("BENCH_ROUND_TRIPS", "10"))


def baseline_view(request: HttpRequest) -> JsonResponse:
    consent_id = request.GET.get("consent", "")
    with transaction.atomic(), connection.cursor() as cursor:
        for _ in range(ROUND_TRIPS):
            cursor.execute("SELECT id, status, uses FROM consent_consent WHERE id = %s", [consent_id])
            cursor.fetchone()
    payload = {"consent": consent_id, "fields": {"quotient_familial": 1234}}
    return JsonResponse({"attestation": payload, "jws": sign_jws(payload, typ="bench")})
