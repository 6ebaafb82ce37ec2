from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent
from consent.models import Citizen, Consent
from consent.selectors import consent_get_for_citizen, consents_for_consumer
from consent.tasks import consents_expire
from gateway.celery import app as celery_app
from providers.models import Organisation
from tests.conftest import ApiCaller
from tests.consent.conftest import events
from tests.processes import CeleryWorker

pytestmark = pytest.mark.django_db

PAST = timezone.now() - dt.timedelta(days=1)


def _age(consent: Consent, **fields: Any) -> None:
    Consent.objects.filter(pk=consent.pk).update(**fields)


class TestExpiryOnRead:
    def test_the_consumer_reads_an_expired_request_as_expired(
        self, client: Client, mairie_caller: ApiCaller, make_request: Callable[..., Consent]
    ):
        consent = make_request(client=mairie_caller.application)
        _age(consent, request_expires_at=timezone.now() - dt.timedelta(seconds=1))
        for _ in range(2):
            data = client.get(f"/api/v1/consents/{consent.pk}", headers=mairie_caller.headers).json()
            assert (data["status"], data["status_reason"]) == ("expired", "request_expired")
        # Recorded once, by the first read; the second found it already expired.
        assert len(events(consent, "consent.expired")) == 1

    def test_the_list_shows_no_active_consent_past_its_validity(self, active: Consent, mairie: Organisation):
        _age(active, valid_until=timezone.now() - dt.timedelta(seconds=1))
        assert [c.status for c in consents_for_consumer(consumer=mairie)] == ["expired"]
        assert list(consents_for_consumer(consumer=mairie, status="active")) == []
        assert len(events(active, "consent.expired")) == 1

    def test_the_citizen_reads_it_as_expired(self, active: Consent, alice: Citizen):
        _age(active, valid_until=timezone.now() - dt.timedelta(seconds=1))
        assert consent_get_for_citizen(citizen=alice, consent_id=active.pk).status == "expired"
        assert Consent.objects.get(pk=active.pk).status == "expired"

    def test_a_consent_within_its_window_stays_active(self, active: Consent, alice: Citizen):
        assert consent_get_for_citizen(citizen=alice, consent_id=active.pk).status == "active"
        assert not events(active, "consent.expired")


class TestBeatTask:
    def test_it_is_scheduled_and_registered(self):
        entry = django_settings.CELERY_BEAT_SCHEDULE["consents-expire"]
        celery_app.loader.import_default_modules()
        assert entry["task"] in celery_app.tasks

    def test_it_expires_what_is_due_and_only_once(self, make_request: Callable[..., Consent], active: Consent):
        stale = make_request(reference="stale")
        fresh = make_request(reference="fresh")
        _age(stale, request_expires_at=PAST)
        _age(active, valid_until=PAST)
        assert consents_expire.apply().get() == 2
        assert consents_expire.apply().get() == 0
        statuses = dict(Consent.objects.values_list("reference", "status"))
        assert Consent.objects.get(pk=fresh.pk).status == "pending"
        assert Consent.objects.get(pk=stale.pk).status == "expired"
        assert Consent.objects.get(pk=active.pk).status == "expired", statuses
        assert AuditEvent.objects.filter(type="consent.expired").count() == 2


@pytest.mark.django_db(transaction=True)
def test_a_real_worker_runs_the_beat_task(celery_worker: CeleryWorker, make_request: Callable[..., Consent]):
    """The task through Redis and a separate worker process, against this test database."""
    stale = make_request(reference="stale")
    _age(stale, request_expires_at=PAST)

    consents_expire.delay()

    celery_worker.wait_until(
        lambda: Consent.objects.get(pk=stale.pk).status == "expired", what="the worker to expire the request"
    )
    assert Consent.objects.get(pk=stale.pk).status == "expired"
    assert len(events(stale, "consent.expired")) == 1
