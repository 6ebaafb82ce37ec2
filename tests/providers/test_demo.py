from __future__ import annotations

import io

import pytest

from audit.models import AuditEvent
from providers.demo import DEMO_CONSUMER, seed
from providers.models import AttestationType, Habilitation, Organisation


@pytest.mark.django_db
class TestSeedDemo:
    def test_it_seeds_providers_types_and_approved_habilitations_with_their_trail(self) -> None:
        out = io.StringIO()

        seed(out)

        assert "8 attestation types from 9 organisations" in out.getvalue()
        assert AttestationType.objects.count() == 8
        mairie = Organisation.objects.get(code=DEMO_CONSUMER)
        assert Habilitation.objects.filter(consumer=mairie, status="approved").count() == 8
        assert AuditEvent.objects.filter(type="habilitation.submitted").count() == 8
        assert AuditEvent.objects.filter(type="habilitation.approved").count() == 8
        # Where the demo consumer sends citizens back after their decision (return_url).
        assert mairie.return_url_origins == ["https://demarches.villeurbanne.fr"]

    def test_it_is_idempotent(self) -> None:
        seed(io.StringIO())
        rows = (Organisation.objects.count(), AttestationType.objects.count(), Habilitation.objects.count())
        events = AuditEvent.objects.count()

        out = io.StringIO()
        seed(out)

        assert (Organisation.objects.count(), AttestationType.objects.count(), Habilitation.objects.count()) == rows
        assert AuditEvent.objects.count() == events
        assert "(0 new)" in out.getvalue()
