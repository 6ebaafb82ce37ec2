"""The yardstick of the exchange benchmark: a minimal Django view that makes the same database
round trips as one exchange and one Ed25519 signature, and nothing else.

An exchange reads (token, scope ceiling, habilitation, consent…) then writes in one transaction
(BEGIN, the use counter, the exchange row, the audit event, COMMIT). The baseline mirrors that
shape with raw SQL: the same number of reads by primary key, then BEGIN, an UPDATE of the same
consent row, two INSERTs and COMMIT, so both pay the same commit cost. The exchange must reach at
least half this view's throughput (DESIGN.md, Targets).
"""

from __future__ import annotations

import json
import os

from django.db import connection, transaction
from django.http import HttpRequest, JsonResponse

from core.keys import sign_jws

# Measured by bench/run.py on a real exchange (CaptureQueriesContext, BEGIN and COMMIT included).
ROUND_TRIPS = int(os.environ.get("BENCH_ROUND_TRIPS", "13"))
WRITE_ROUND_TRIPS = 5  # BEGIN, UPDATE, INSERT, INSERT, COMMIT

TABLE_DDL = (
    "CREATE TABLE IF NOT EXISTS bench_baseline_row "
    "(id bigserial PRIMARY KEY, consent uuid NOT NULL, body jsonb NOT NULL, created_at timestamptz DEFAULT now())"
)


def baseline_view(request: HttpRequest) -> JsonResponse:
    consent_id = request.GET.get("consent", "")
    with connection.cursor() as cursor:
        for _ in range(max(ROUND_TRIPS - WRITE_ROUND_TRIPS, 0)):
            cursor.execute("SELECT id, status, uses FROM consent_consent WHERE id = %s", [consent_id])
            cursor.fetchone()
    payload = {"consent": consent_id, "fields": {"quotient_familial": 1234}}
    jws = sign_jws(payload, typ="bench")
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE consent_consent SET uses = uses + 1 WHERE id = %s", [consent_id])
        body = json.dumps(payload)
        cursor.execute("INSERT INTO bench_baseline_row (consent, body) VALUES (%s, %s)", [consent_id, body])
        cursor.execute("INSERT INTO bench_baseline_row (consent, body) VALUES (%s, %s)", [consent_id, body])
    return JsonResponse({"attestation": payload, "jws": jws})
