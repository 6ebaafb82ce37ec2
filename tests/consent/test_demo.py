from __future__ import annotations

import io

import pytest

from audit.models import AuditEvent
from consent import demo
from consent.models import Consent
from consent.rules import citizen_addressee

pytestmark = pytest.mark.django_db


def test_the_seed_adds_the_companies_two_requests_and_an_active_consent_once(catalogue: None):
    out = io.StringIO()
    demo.seed(out)
    demo.seed(out)
    statuses = dict(Consent.objects.values_list("reference", "status"))
    assert statuses == {
        demo.PENDING_REFERENCE: "pending",
        demo.ACTIVE_REFERENCE: "active",
        demo.TENDER_REFERENCE: "pending",
    }
    assert Consent.objects.get(reference=demo.TENDER_REFERENCE).company.name == "Menuiserie Exemple"
    assert Consent.objects.get(reference=demo.ACTIVE_REFERENCE).citizen.subject == "demo-0"
    assert AuditEvent.objects.filter(type="consent.requested").count() == 3
    pending = Consent.objects.get(reference=demo.PENDING_REFERENCE)
    assert f"/consentements/demandes/{pending.pk}/" in out.getvalue()
    # Addressed to demo citizen 0: on their dashboard, for them alone.
    assert pending.addressee == citizen_addressee(Consent.objects.get(reference=demo.ACTIVE_REFERENCE).citizen)
