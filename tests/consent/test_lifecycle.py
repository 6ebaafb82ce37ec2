from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable

import pytest
from django.utils import timezone
from oauth2_provider.models import AccessToken, Application

from audit.models import ActorKind, AuditEvent
from audit.services import Actor
from consent.models import Citizen, Consent, TokenBinding
from consent.services import (
    consent_approve,
    consent_expire_if_due,
    consent_pause,
    consent_reject,
    consent_resume,
    consent_revoke,
)
from consent.services.trail import citizen_actor
from core.errors import GatewayError
from providers.models import Habilitation, Organisation
from tests.consent.conftest import AVIS, QF, events, snapshot

pytestmark = pytest.mark.django_db

CONSUMER = Actor(ActorKind.CONSUMER, "mairie-client")


def _past(consent: Consent, **fields: dt.datetime) -> Consent:
    Consent.objects.filter(pk=consent.pk).update(**fields)
    consent.refresh_from_db()
    return consent


class TestAllowedTransitions:
    def test_it_records_the_request_with_its_terms(self, pending: Consent, mairie: Organisation, cnaf: Organisation):
        assert pending.status == "pending"
        [event] = events(pending)
        assert event.type == "consent.requested"
        assert (event.consumer, event.provider, event.attestation_type) == (mairie.siret, cnaf.siret, QF)
        assert event.purpose == "tarification-sociale"
        habilitation = Habilitation.objects.get(consumer=mairie, attestation_type__slug=QF)
        # No fields asked: the request takes all the habilitation allows, in catalogue order.
        assert event.fields and sorted(event.fields) == sorted(habilitation.fields)
        assert event.citizen_ref == ""
        assert event.detail["types"] == QF

    def test_it_approves_a_pending_request_and_signs_it(self, pending: Consent, alice: Citizen):
        consent = consent_approve(consent=pending, citizen=alice, eidas_level="eidas2")
        assert consent.status == "active"
        assert consent.citizen == alice
        assert consent.valid_until - consent.valid_from == dt.timedelta(days=90)
        assert consent.artefact.count(".") == 2
        assert consent.version == pending.version + 1
        [event] = events(consent, "consent.approved")
        assert event.citizen_ref == alice.ref
        assert event.actor_kind == "citizen" and event.actor == alice.ref
        assert len(events(consent)) == 2

    def test_it_rejects_a_pending_request(self, pending: Consent, alice: Citizen):
        consent = consent_reject(consent=pending, citizen=alice)
        assert (consent.status, consent.status_reason) == ("rejected", "citizen")
        assert consent.artefact == ""
        assert len(events(consent, "consent.rejected")) == 1
        assert len(events(consent)) == 2

    def test_it_pauses_and_resumes_an_active_consent(self, active: Consent, alice: Citizen):
        paused = consent_pause(consent=active, citizen=alice)
        assert paused.status == "paused"
        assert len(events(active, "consent.paused")) == 1
        resumed = consent_resume(consent=paused, citizen=alice)
        assert resumed.status == "active"
        assert len(events(active, "consent.resumed")) == 1
        assert len(events(active)) == 4

    @pytest.mark.parametrize("paused_first", [False, True])
    def test_it_lets_the_citizen_revoke(self, active: Consent, alice: Citizen, paused_first: bool):
        if paused_first:
            active = consent_pause(consent=active, citizen=alice)
        before = len(events(active))
        consent = consent_revoke(consent=active, actor=citizen_actor(alice), reason="citizen")
        assert (consent.status, consent.status_reason) == ("revoked", "citizen")
        [event] = events(consent, "consent.revoked")
        assert event.actor_kind == "citizen"
        assert len(events(consent)) == before + 1

    @pytest.mark.parametrize("state", ["pending", "active"])
    def test_it_lets_the_consumer_end_a_request_or_a_consent(
        self, request: pytest.FixtureRequest, state: str, alice: Citizen
    ):
        consent: Consent = request.getfixturevalue(state)
        consent = consent_revoke(consent=consent, actor=CONSUMER, reason="consumer")
        assert (consent.status, consent.status_reason) == ("revoked", "consumer")
        [event] = events(consent, "consent.revoked")
        assert (event.actor_kind, event.actor) == ("consumer", "mairie-client")

    def test_it_expires_a_request_past_its_deadline(self, pending: Consent):
        pending = _past(pending, request_expires_at=timezone.now() - dt.timedelta(seconds=1))
        consent = consent_expire_if_due(consent=pending)
        assert (consent.status, consent.status_reason) == ("expired", "request_expired")
        assert len(events(consent, "consent.expired")) == 1
        # Idempotent: a second call changes nothing and records nothing.
        assert consent_expire_if_due(consent=consent).version == consent.version
        assert len(events(consent, "consent.expired")) == 1

    @pytest.mark.parametrize("paused_first", [False, True])
    def test_it_expires_a_consent_past_its_validity(self, active: Consent, alice: Citizen, paused_first: bool):
        if paused_first:
            active = consent_pause(consent=active, citizen=alice)
        active = _past(active, valid_until=timezone.now() - dt.timedelta(seconds=1))
        consent = consent_expire_if_due(consent=active)
        assert (consent.status, consent.status_reason) == ("expired", "validity_ended")
        [event] = events(consent, "consent.expired")
        assert event.actor_kind == "system"

    def test_it_does_not_expire_what_is_not_due(self, active: Consent):
        before = snapshot(active)
        assert consent_expire_if_due(consent=active).status == "active"
        assert snapshot(active) == before
        assert not events(active, "consent.expired")

    def test_it_revokes_the_tokens_bound_to_the_consent(self, active: Consent, mairie: Organisation):
        application = Application.objects.create(
            name="interactive",
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_AUTHORIZATION_CODE,
            redirect_uris="https://client.example.fr/cb",
        )
        token = AccessToken.objects.create(
            application=application,
            token=secrets.token_urlsafe(16),
            scope=f"attestations:{QF}",
            expires=timezone.now() + dt.timedelta(minutes=5),
        )
        TokenBinding.objects.create(access_token=token, consent=active)
        consent_revoke(consent=active, actor=CONSUMER, reason="consumer")
        assert not AccessToken.objects.filter(pk=token.pk).exists()
        [event] = AuditEvent.objects.filter(type="token.revoked", consent_id=active.pk)
        assert event.detail["token_id"] == token.pk
        assert token.token not in str(event.detail)
        assert len(events(active, "consent.revoked")) == 1

    def test_it_records_a_multi_type_consent_with_every_slug(
        self, make_request: Callable[..., Consent], cnaf: Organisation, dgfip: Organisation
    ):
        consent = make_request(attestation_types=[QF, AVIS], fields={QF: ["quotient_familial"]})
        [event] = events(consent)
        assert event.attestation_type == ""
        assert event.provider == ""
        assert event.detail["types"] == f"{QF} {AVIS}"
        assert event.detail["providers"] == f"{cnaf.siret} {dgfip.siret}"
        assert f"{QF}:quotient_familial" in event.fields
        assert all(name.startswith((QF + ":", AVIS + ":")) for name in event.fields)


def _expired_request(consent: Consent) -> Consent:
    return _past(consent, request_expires_at=timezone.now() - dt.timedelta(seconds=1))


def _ended(consent: Consent) -> Consent:
    return _past(consent, valid_until=timezone.now() - dt.timedelta(seconds=1))


# (start state fixture, preparation, action, expected code)
REFUSED: list[tuple[str, str, Callable[[Consent, Citizen, Citizen], object], str]] = [
    ("active", "", lambda c, a, b: consent_approve(consent=c, citizen=a, eidas_level="eidas3"), "invalid_transition"),
    ("rejected", "", lambda c, a, b: consent_approve(consent=c, citizen=a, eidas_level="eidas3"), "invalid_transition"),
    (
        "pending",
        "expire_request",
        lambda c, a, b: consent_approve(consent=c, citizen=a, eidas_level="eidas2"),
        "invalid_transition",
    ),
    ("pending", "expire_request", lambda c, a, b: consent_reject(consent=c, citizen=a), "invalid_transition"),
    ("active", "", lambda c, a, b: consent_reject(consent=c, citizen=a), "invalid_transition"),
    ("pending", "", lambda c, a, b: consent_pause(consent=c, citizen=a), "not_found"),
    ("paused", "", lambda c, a, b: consent_pause(consent=c, citizen=a), "invalid_transition"),
    ("active", "", lambda c, a, b: consent_resume(consent=c, citizen=a), "invalid_transition"),
    ("paused", "end", lambda c, a, b: consent_resume(consent=c, citizen=a), "invalid_transition"),
    ("active", "", lambda c, a, b: consent_pause(consent=c, citizen=b), "not_found"),
    ("active", "", lambda c, a, b: consent_revoke(consent=c, actor=citizen_actor(b), reason="citizen"), "not_found"),
    (
        "rejected",
        "",
        lambda c, a, b: consent_revoke(consent=c, actor=CONSUMER, reason="consumer"),
        "invalid_transition",
    ),
    ("revoked", "", lambda c, a, b: consent_revoke(consent=c, actor=CONSUMER, reason="consumer"), "invalid_transition"),
    (
        "active",
        "end",
        lambda c, a, b: consent_revoke(consent=c, actor=citizen_actor(a), reason="citizen"),
        "invalid_transition",
    ),
    ("expired", "", lambda c, a, b: consent_revoke(consent=c, actor=CONSUMER, reason="consumer"), "invalid_transition"),
    ("expired", "", lambda c, a, b: consent_resume(consent=c, citizen=a), "invalid_transition"),
]


class TestRefusedTransitions:
    @pytest.fixture
    def rejected(self, pending: Consent, alice: Citizen) -> Consent:
        return consent_reject(consent=pending, citizen=alice)

    @pytest.fixture
    def paused(self, active: Consent, alice: Citizen) -> Consent:
        return consent_pause(consent=active, citizen=alice)

    @pytest.fixture
    def revoked(self, active: Consent) -> Consent:
        return consent_revoke(consent=active, actor=CONSUMER, reason="consumer")

    @pytest.fixture
    def expired(self, active: Consent) -> Consent:
        return consent_expire_if_due(consent=_ended(active))

    @pytest.mark.parametrize(("state", "preparation", "action", "code"), REFUSED)
    def test_it_refuses_with_a_code_and_changes_nothing(
        self,
        request: pytest.FixtureRequest,
        alice: Citizen,
        bob: Citizen,
        state: str,
        preparation: str,
        action: Callable[[Consent, Citizen, Citizen], object],
        code: str,
    ):
        consent: Consent = request.getfixturevalue(state)
        if preparation == "expire_request":
            consent = _expired_request(consent)
        elif preparation == "end":
            consent = _ended(consent)
        before, events_before = snapshot(consent), AuditEvent.objects.count()
        with pytest.raises(GatewayError) as raised:
            action(consent, alice, bob)
        assert raised.value.code == code
        assert snapshot(consent) == before
        assert AuditEvent.objects.count() == events_before

    def test_it_refuses_approval_below_the_types_level(self, make_request: Callable[..., Consent], alice: Citizen):
        consent = make_request(attestation_types=[AVIS], fields=None)
        before, events_before = snapshot(consent), AuditEvent.objects.count()
        with pytest.raises(GatewayError) as raised:
            consent_approve(consent=consent, citizen=alice, eidas_level="eidas1")
        assert raised.value.code == "loa_insufficient"
        assert raised.value.extra["required_level"] == "eidas2"
        assert snapshot(consent) == before
        assert AuditEvent.objects.count() == events_before
