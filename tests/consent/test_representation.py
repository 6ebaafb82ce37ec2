"""Companies as subjects and the people who act for them: the register checked live (the demo
adapter's synthetic register), delegations and legal mandates, every edge case of the issue, and
isolation across companies and mandates."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.test import Client
from django.utils import timezone
from joserfc import jws
from joserfc.jwk import KeySet

from audit.models import AuditEvent, EventType
from audit.refs import company_ref
from consent.demo import companies_load
from consent.models import Citizen, Company, Consent, Ground, Mandate, RegisterCheck
from consent.rules import ActingRefused
from consent.services import consent_approve, consent_request_create, consent_revoke, interactive_request_build
from consent.services.artefacts import consent_receipt
from consent.services.citizens import citizen_from_person
from consent.services.notices import renewal_tell
from consent.services.representation import (
    acting_for_company,
    acting_for_person,
    legal_mandate_record,
    mandate_accept,
    mandate_delegate,
    mandate_revoke,
)
from consent.services.trail import citizen_actor
from core.errors import NotFound, ValidationError
from core.jose import jwks
from gateway.models import Exchange
from providers.adapters.demo import demo_register
from providers.demo import catalogue_load
from providers.demodata.population import Population, demo_citizens
from providers.models import Organisation
from tests.conftest import SANDBOX_TOKEN, ApiCaller, SmtpServer
from tests.consent.test_pages import approval_path, login
from tests.consent.test_renewal import ending_in

pytestmark = pytest.mark.django_db

VIGILANCE = "urssaf.attestation-vigilance"
FISCALE = "dgfip.attestation-fiscale"
APPROVE, REVOKE, READ = "approve", "revoke", "read_history"


@pytest.fixture(autouse=True)
def register() -> Iterator[None]:
    yield
    # The register's departures live in the process's demo register: every test starts afresh.
    demo_register().reinstate()


@pytest.fixture
def companies(catalogue: None) -> None:
    companies_load()


@pytest.fixture
def joinery(companies: None) -> Company:
    """Managed by demo person 1 (bob)."""
    return Company.objects.get(siret=demo_register()[0].siret)


@pytest.fixture
def workshop(companies: None) -> Company:
    """Chaired by demo person 2 (odette)."""
    return Company.objects.get(siret=demo_register()[1].siret)


@pytest.fixture
def bakery(companies: None) -> Company:
    """Closed."""
    return Company.objects.get(siret=demo_register()[2].siret)


@pytest.fixture
def odette(db: None, population: Population) -> Citizen:
    return citizen_from_person(person=demo_citizens(population)[2], subject="odette-sub")


@pytest.fixture
def tender(mairie: Organisation) -> Callable[..., Consent]:
    def make(company: Company, types: list[str] | None = None) -> Consent:
        return consent_request_create(
            consumer=mairie,
            client=None,
            attestation_types=types or [VIGILANCE, FISCALE],
            fields=None,
            purpose_code="marche-public",
            purpose_text="Marché 2026-017",
            duration_days=90,
            max_uses=None,
            company_siret=company.siret,
        )

    return make


def delegate(
    grantor: Citizen, company: Company, agent: Citizen, *, types: list[str], actions: list[str], days: int = 30
) -> Mandate:
    acting = acting_for_company(citizen=grantor, company=company, action=APPROVE, types=types)
    delegation = mandate_delegate(
        grantor=grantor,
        company=company,
        acting=acting,
        types=types,
        actions=actions,
        valid_until=timezone.now() + dt.timedelta(days=days),
    )
    return mandate_accept(code=delegation.invitation_code, citizen=agent)


def approve(consent: Consent, citizen: Citizen) -> Consent:
    types = [item.attestation_type.slug for item in consent.items.all()]
    assert consent.company is not None
    acting = acting_for_company(citizen=citizen, company=consent.company, action=APPROVE, types=types)
    return consent_approve(consent=consent, citizen=citizen, eidas_level="eidas2", acting=acting)


def refusal(error: pytest.ExceptionInfo[Any]) -> str:
    return str(error.value.extra["reason"])


class TestConsumerApi:
    URL = "/api/v1/consent-requests"

    def body(self, siret: str, types: list[str] | None = None) -> dict[str, Any]:
        return {
            "attestation_types": types or [VIGILANCE, FISCALE],
            "purpose": {"code": "marche-public", "text": "Marché 2026-017"},
            "duration_days": 90,
            "subject": {"siret": siret},
        }

    def post(self, client: Client, caller: ApiCaller, body: dict[str, Any]) -> Any:
        return client.post(self.URL, body, content_type="application/json", headers=caller.headers)

    def test_it_creates_a_request_about_a_company(
        self, client: Client, mairie_caller: ApiCaller, joinery: Company
    ) -> None:
        response = self.post(client, mairie_caller, self.body(joinery.siret))

        assert response.status_code == 201, response.content
        data = response.json()
        assert data["subject"] == {
            "kind": "company",
            "siren": joinery.siren,
            "siret": joinery.siret,
            "name": joinery.name,
        }
        assert data["decided_by"] is None
        consent = Consent.objects.get(pk=data["id"])
        assert (consent.company, consent.citizen) == (joinery, None)
        assert AuditEvent.objects.get(type=EventType.CONSENT_REQUESTED).citizen_ref == company_ref(joinery.siren)

    @pytest.mark.parametrize(
        ("which", "code"),
        [("luhn", "invalid_siret"), ("closed", "company_closed"), ("unknown", "unknown_company")],
    )
    def test_it_refuses_a_siret_failing_the_luhn_check_of_a_closed_or_unknown_company(
        self, client: Client, mairie_caller: ApiCaller, joinery: Company, bakery: Company, which: str, code: str
    ) -> None:
        siret = {
            "luhn": joinery.siret[:-1] + str((int(joinery.siret[-1]) + 1) % 10),
            "closed": bakery.siret,
            "unknown": "73282932000074",
        }[which]

        response = self.post(client, mairie_caller, self.body(siret))

        assert response.status_code == 400
        assert response["Content-Type"] == "application/problem+json"
        assert response.json()["code"] == "validation_error"
        assert response.json()["errors"]["subject.siret"][0]["code"] == code
        assert Consent.objects.count() == 0

    def test_it_refuses_types_whose_subject_kind_differs_from_the_subject(
        self, client: Client, mairie_caller: ApiCaller, joinery: Company
    ) -> None:
        person_type = self.post(client, mairie_caller, self.body(joinery.siret, ["cnaf.quotient-familial"]))
        no_subject = self.post(client, mairie_caller, {**self.body(joinery.siret), "subject": None})

        assert person_type.json()["errors"]["attestation_types"][0]["code"] == "subject_kind_mismatch"
        assert no_subject.json()["errors"]["attestation_types"][0]["code"] == "subject_kind_mismatch"
        assert Consent.objects.count() == 0

    def test_it_shows_who_approved_by_role_not_identity(
        self, client: Client, mairie_caller: ApiCaller, joinery: Company, bob: Citizen, tender: Any
    ) -> None:
        consent = approve(tender(joinery), bob)

        data = client.get(f"/api/v1/consents/{consent.pk}", headers=mairie_caller.headers).json()

        assert data["status"] == "active"
        assert data["decided_by"]["role"] == "legal_representative"
        assert "register_checked_at" in data["decided_by"]
        assert bob.ref not in str(data)
        # Nor in the signed terms or the receipt, which the consumer also holds beside the subject
        # references of the person's own consents: who decided is a reference scoped to one consent.
        keys = KeySet.import_key_set(jwks())
        terms = jws.deserialize_compact(data["artefact"], keys, algorithms=["EdDSA"]).payload.decode()
        other = approve(tender(joinery, [VIGILANCE]), bob)
        other_terms = jws.deserialize_compact(other.artefact, keys, algorithms=["EdDSA"]).payload.decode()
        assert bob.ref not in terms and bob.ref not in other_terms
        assert bob.ref not in json.dumps(consent_receipt(consent=consent))
        assert json.loads(terms)["decided_by"]["actor_ref"] != json.loads(other_terms)["decided_by"]["actor_ref"]


class TestLegalRepresentative:
    def test_it_approves_when_the_register_lists_them_and_records_the_check(
        self, joinery: Company, bob: Citizen, tender: Any
    ) -> None:
        consent = approve(tender(joinery), bob)

        check = RegisterCheck.objects.get()
        assert (check.company, check.citizen, check.listed, check.office) == (joinery, bob, True, "Gérant")
        assert (consent.status, consent.actor, consent.ground, consent.register_check) == (
            "active",
            bob,
            Ground.LEGAL_REPRESENTATIVE,
            check,
        )
        checked = AuditEvent.objects.get(type=EventType.REPRESENTATION_CHECKED)
        assert (checked.citizen_ref, checked.actor, checked.detail["listed"]) == (joinery.ref, bob.ref, True)
        approved = AuditEvent.objects.get(type=EventType.CONSENT_APPROVED)
        assert approved.citizen_ref == joinery.ref
        assert approved.detail["ground"] == "legal_representative"
        assert approved.detail["actor_ref"] == bob.ref
        assert approved.detail["register_check"] == str(check.pk)
        terms = jws.deserialize_compact(consent.artefact, KeySet.import_key_set(jwks()), algorithms=["EdDSA"]).payload
        assert b'"decided_by"' in terms and joinery.siret.encode() in terms

    def test_it_refuses_a_person_the_register_does_not_list(
        self, joinery: Company, alice: Citizen, tender: Any
    ) -> None:
        with pytest.raises(ActingRefused) as refused:
            approve(tender(joinery), alice)

        assert refusal(refused) == "register_not_listed"
        assert RegisterCheck.objects.get().listed is False
        assert Consent.objects.get().status == "pending"

    def test_it_keeps_companies_apart(
        self, joinery: Company, workshop: Company, bob: Citizen, odette: Citizen, tender: Any
    ) -> None:
        for company, outsider in ((joinery, odette), (workshop, bob)):
            with pytest.raises(ActingRefused):
                approve(tender(company), outsider)
        assert approve(tender(workshop), odette).ground == Ground.LEGAL_REPRESENTATIVE

    def test_a_company_consent_cannot_be_decided_without_a_ground(
        self, joinery: Company, bob: Citizen, tender: Any
    ) -> None:
        with pytest.raises(NotFound):
            consent_approve(consent=tender(joinery), citizen=bob, eidas_level="eidas2")

    def test_it_stops_a_representative_the_register_no_longer_lists_and_lapses_their_delegations(
        self, joinery: Company, bob: Citizen, alice: Citizen, tender: Any
    ) -> None:
        mandate = delegate(bob, joinery, alice, types=[VIGILANCE], actions=[APPROVE])
        demo_register().depart(joinery.siren, 1)

        with pytest.raises(ActingRefused) as refused:
            approve(tender(joinery), bob)
        with pytest.raises(ActingRefused) as delegate_refused:
            approve(tender(joinery, [VIGILANCE]), alice)

        assert refusal(refused) == "register_not_listed"
        assert refusal(delegate_refused) in ("mandate_ended", "register_not_listed")
        mandate.refresh_from_db()
        assert (mandate.status, mandate.end_reason) == ("lapsed", "grantor_not_listed")
        lapsed = AuditEvent.objects.get(type=EventType.MANDATE_LAPSED)
        assert (lapsed.citizen_ref, lapsed.detail["mandate"]) == (joinery.ref, str(mandate.pk))


class TestDelegation:
    def test_the_delegate_acts_within_scope_and_is_refused_outside_it(
        self, joinery: Company, bob: Citizen, alice: Citizen, tender: Any
    ) -> None:
        mandate = delegate(bob, joinery, alice, types=[VIGILANCE], actions=[APPROVE])

        consent = approve(tender(joinery, [VIGILANCE]), alice)
        with pytest.raises(ActingRefused) as other_type:
            approve(tender(joinery, [VIGILANCE, FISCALE]), alice)
        with pytest.raises(ActingRefused) as other_action:
            acting_for_company(citizen=alice, company=joinery, action=REVOKE, types=[VIGILANCE])

        assert (consent.ground, consent.mandate_id, consent.actor) == (Ground.DELEGATE, mandate.pk, alice)
        assert refusal(other_type) == refusal(other_action) == "outside_scope"
        assert "does not cover" in str(other_type.value)
        granted = AuditEvent.objects.get(type=EventType.MANDATE_GRANTED)
        accepted = AuditEvent.objects.get(type=EventType.MANDATE_ACCEPTED)
        assert (granted.actor, accepted.actor, accepted.detail["agent"]) == (bob.ref, alice.ref, alice.ref)

    def test_a_revoked_delegation_stops_its_agent_at_the_next_action(
        self, joinery: Company, bob: Citizen, alice: Citizen, tender: Any
    ) -> None:
        mandate = delegate(bob, joinery, alice, types=[VIGILANCE], actions=[APPROVE])
        waiting = tender(joinery, [VIGILANCE])

        mandate_revoke(mandate=mandate, by=bob)

        with pytest.raises(ActingRefused) as refused:
            approve(waiting, alice)
        assert refusal(refused) == "mandate_ended"
        assert AuditEvent.objects.filter(type=EventType.MANDATE_REVOKED, actor=bob.ref).count() == 1

    def test_a_mandate_past_its_end_is_refused_with_a_clear_message(
        self, joinery: Company, bob: Citizen, alice: Citizen, tender: Any
    ) -> None:
        mandate = delegate(bob, joinery, alice, types=[VIGILANCE], actions=[APPROVE])
        Mandate.objects.filter(pk=mandate.pk).update(valid_until=timezone.now() - dt.timedelta(seconds=1))

        with pytest.raises(ActingRefused) as refused:
            approve(tender(joinery, [VIGILANCE]), alice)

        assert refusal(refused) == "mandate_ended"
        assert "ended" in str(refused.value)

    def test_a_decision_under_a_mandate_revoked_meanwhile_is_refused(
        self, joinery: Company, bob: Citizen, alice: Citizen, tender: Any
    ) -> None:
        mandate = delegate(bob, joinery, alice, types=[VIGILANCE], actions=[APPROVE])
        consent = tender(joinery, [VIGILANCE])
        acting = acting_for_company(citizen=alice, company=joinery, action=APPROVE, types=[VIGILANCE])
        mandate_revoke(mandate=mandate, by=bob)

        with pytest.raises(ActingRefused):
            consent_approve(consent=consent, citizen=alice, eidas_level="eidas2", acting=acting)
        assert Consent.objects.get(pk=consent.pk).status == "pending"

    def test_nobody_delegates_for_a_closed_company_nor_for_more_than_three_years(
        self, joinery: Company, bakery: Company, bob: Citizen
    ) -> None:
        for company, days, code in ((bakery, 30, "company_closed"), (joinery, 3 * 366 + 1, "too_long")):
            acting = acting_for_company(citizen=bob, company=company, action=APPROVE, types=[VIGILANCE])
            with pytest.raises(ValidationError) as refused:
                mandate_delegate(
                    grantor=bob,
                    company=company,
                    acting=acting,
                    types=[VIGILANCE],
                    actions=[APPROVE],
                    valid_until=timezone.now() + dt.timedelta(days=days),
                )
            assert refused.value.extra["errors"]["delegation"][0]["code"] == code
        assert not Mandate.objects.exists()
        assert not AuditEvent.objects.filter(type=EventType.MANDATE_GRANTED).exists()

    def test_a_delegate_cannot_delegate_more_than_they_hold(
        self, joinery: Company, bob: Citizen, alice: Citizen, odette: Citizen
    ) -> None:
        held = delegate(bob, joinery, alice, types=[VIGILANCE], actions=[APPROVE, READ], days=30)
        acting = acting_for_company(citizen=alice, company=joinery, action=APPROVE, types=[VIGILANCE])
        later = timezone.now() + dt.timedelta(days=10)

        for types, actions, until, code in (
            ([VIGILANCE, FISCALE], [APPROVE], later, "more_than_held"),
            ([VIGILANCE], [APPROVE, REVOKE], later, "more_than_held"),
            ([VIGILANCE], [APPROVE], held.valid_until + dt.timedelta(days=1), "beyond_end"),
        ):
            with pytest.raises(ValidationError) as refused:
                mandate_delegate(
                    grantor=alice, company=joinery, acting=acting, types=types, actions=actions, valid_until=until
                )
            assert refused.value.extra["errors"]["delegation"][0]["code"] == code
        within = mandate_delegate(
            grantor=alice, company=joinery, acting=acting, types=[VIGILANCE], actions=[READ], valid_until=later
        )
        sub = mandate_accept(code=within.invitation_code, citizen=odette)
        assert (sub.parent, sub.status) == (held, "active")

    def test_a_mandate_cannot_be_chained_into_a_loop(self, joinery: Company, bob: Citizen, alice: Citizen) -> None:
        delegate(bob, joinery, alice, types=[VIGILANCE], actions=[APPROVE])
        acting = acting_for_company(citizen=alice, company=joinery, action=APPROVE, types=[VIGILANCE])
        back = mandate_delegate(
            grantor=alice,
            company=joinery,
            acting=acting,
            types=[VIGILANCE],
            actions=[APPROVE],
            valid_until=timezone.now() + dt.timedelta(days=5),
        )

        for person in (bob, alice):
            with pytest.raises(ValidationError) as refused:
                mandate_accept(code=back.invitation_code, citizen=person)
            assert refused.value.extra["errors"]["delegation"][0]["code"] == "loop"
        assert Mandate.objects.get(pk=back.mandate.pk).status == "invited"

    def test_revoking_a_delegation_lapses_what_was_carved_from_it(
        self, joinery: Company, bob: Citizen, alice: Citizen, odette: Citizen
    ) -> None:
        held = delegate(bob, joinery, alice, types=[VIGILANCE], actions=[APPROVE])
        acting = acting_for_company(citizen=alice, company=joinery, action=APPROVE, types=[VIGILANCE])
        sub = mandate_accept(
            code=mandate_delegate(
                grantor=alice,
                company=joinery,
                acting=acting,
                types=[VIGILANCE],
                actions=[APPROVE],
                valid_until=timezone.now() + dt.timedelta(days=5),
            ).invitation_code,
            citizen=odette,
        )

        mandate_revoke(mandate=held, by=bob)

        sub.refresh_from_db()
        assert (sub.status, sub.end_reason) == ("lapsed", "parent_ended")

    def test_a_stranger_cannot_revoke_someone_elses_delegation(
        self, joinery: Company, bob: Citizen, alice: Citizen, odette: Citizen
    ) -> None:
        mandate = delegate(bob, joinery, alice, types=[VIGILANCE], actions=[APPROVE])

        with pytest.raises(NotFound):
            mandate_revoke(mandate=mandate, by=odette)
        assert Mandate.objects.get(pk=mandate.pk).status == "active"

    def test_a_delegate_revokes_within_scope_and_the_trail_says_on_what_ground(
        self, joinery: Company, bob: Citizen, alice: Citizen, tender: Any
    ) -> None:
        consent = approve(tender(joinery, [VIGILANCE]), bob)
        mandate = delegate(bob, joinery, alice, types=[VIGILANCE], actions=[REVOKE])
        acting = acting_for_company(citizen=alice, company=joinery, action=REVOKE, types=[VIGILANCE])

        consent_revoke(consent=consent, actor=citizen_actor(alice), reason="citizen", acting=acting, by=alice)

        revoked = AuditEvent.objects.get(type=EventType.CONSENT_REVOKED)
        assert (revoked.citizen_ref, revoked.detail["ground"], revoked.detail["mandate"]) == (
            joinery.ref,
            "delegate",
            str(mandate.pk),
        )


@pytest.mark.usefixtures("catalogue")
class TestLegalMandate:
    def test_a_guardian_acts_for_the_person_under_a_legal_mandate_with_its_source(
        self, alice: Citizen, odette: Citizen, bob: Citizen
    ) -> None:
        mandate = legal_mandate_record(
            principal=odette,
            agent=alice,
            types=["dgfip.avis-imposition"],
            actions=[APPROVE, READ],
            valid_until=timezone.now() + dt.timedelta(days=365),
            legal_source="Jugement de tutelle, tribunal judiciaire de Lyon, RG 25/01234",
            operator="operator@gateway",
        )

        acting = acting_for_person(citizen=alice, principal=odette, action=READ, types=["dgfip.avis-imposition"])
        with pytest.raises(ActingRefused):
            acting_for_person(citizen=bob, principal=odette, action=READ, types=["dgfip.avis-imposition"])

        assert (acting.ground, acting.mandate_id) == (Ground.LEGAL_MANDATE, mandate.pk)
        assert acting_for_person(citizen=odette, principal=odette, action=REVOKE, types=[]).ground == Ground.SUBJECT
        granted = AuditEvent.objects.get(type=EventType.MANDATE_GRANTED)
        assert (granted.citizen_ref, granted.actor_kind, granted.detail["kind"]) == (odette.ref, "operator", "legal")

    def test_a_legal_mandate_needs_its_source_and_another_person(self, alice: Citizen, odette: Citizen) -> None:
        until = timezone.now() + dt.timedelta(days=30)
        for principal, source in ((odette, " "), (alice, "Jugement")):
            with pytest.raises(ValidationError):
                legal_mandate_record(
                    principal=principal,
                    agent=alice,
                    types=["dgfip.avis-imposition"],
                    actions=[READ],
                    valid_until=until,
                    legal_source=source,
                    operator="operator",
                )
        assert Mandate.objects.count() == 0

    def test_a_legal_mandate_names_person_types_only_and_neither_loops_nor_repeats(
        self, alice: Citizen, odette: Citizen
    ) -> None:
        def record(principal: Citizen, agent: Citizen, types: list[str]) -> Mandate:
            return legal_mandate_record(
                principal=principal,
                agent=agent,
                types=types,
                actions=[READ],
                valid_until=timezone.now() + dt.timedelta(days=30),
                legal_source="Jugement du 3 mars 2026, RG 26/00123",
                operator="operator",
            )

        for types in (["nope.nope"], [VIGILANCE], ["dgfip.avis-imposition", FISCALE]):
            with pytest.raises(ValidationError) as unknown:
                record(odette, alice, types)
            assert unknown.value.extra["errors"]["delegation"][0]["code"] == "unknown_type"
        record(odette, alice, ["dgfip.avis-imposition"])
        with pytest.raises(ValidationError) as loop:
            record(alice, odette, ["dgfip.avis-imposition"])
        with pytest.raises(ValidationError) as again:
            record(odette, alice, ["cnaf.quotient-familial"])
        assert loop.value.extra["errors"]["delegation"][0]["code"] == "loop"
        assert again.value.extra["errors"]["delegation"][0]["code"] == "already"
        assert Mandate.objects.count() == 1
        assert AuditEvent.objects.filter(type=EventType.MANDATE_GRANTED).count() == 1


class TestExchange:
    def test_the_consumer_obtains_the_companys_attestation_by_siret_and_the_trail_names_the_company(
        self,
        client: Client,
        make_caller: Callable[..., ApiCaller],
        mairie: Organisation,
        joinery: Company,
        bob: Citizen,
        tender: Any,
        django_assert_num_queries: Any,
    ) -> None:
        consent = approve(tender(joinery), bob)
        caller = make_caller(mairie, scopes=f"attestations:{VIGILANCE}")

        # The same three statements as a person's exchange: the company comes with the grant.
        with django_assert_num_queries(3):
            response = client.get(f"/api/v1/attestations/{VIGILANCE}?consent={consent.pk}", headers=caller.headers)

        assert response.status_code == 200, response.content
        attestation = response.json()["attestation"]
        assert attestation["subject_ref"] == joinery.ref
        assert attestation["fields"]["entity_status"]["code"] == "ok"
        exchange = Exchange.objects.get(pk=response.json()["exchange_id"])
        assert (exchange.status, exchange.consent_id) == ("succeeded", consent.pk)
        event = AuditEvent.objects.get(type=EventType.EXCHANGE_SUCCEEDED)
        assert (event.citizen_ref, event.exchange_id) == (joinery.ref, exchange.pk)
        assert Consent.objects.get(pk=consent.pk).uses == 1


@pytest.mark.usefixtures("catalogue")
class TestLegalMandateCommand:
    def test_an_operator_records_a_legal_mandate_with_its_source(self, alice: Citizen, odette: Citizen) -> None:
        out = io.StringIO()

        call_command(
            "record_legal_mandate",
            principal=str(odette.pk),
            agent=str(alice.pk),
            types="dgfip.avis-imposition",
            until="2099-12-31",
            source="Jugement de tutelle, RG 25/01234",
            operator="ops@gateway",
            stdout=out,
        )

        mandate = Mandate.objects.get()
        assert (mandate.kind, mandate.principal_citizen, mandate.agent, mandate.status) == (
            "legal",
            odette,
            alice,
            "active",
        )
        assert "recorded" in out.getvalue()
        assert AuditEvent.objects.get(type=EventType.MANDATE_GRANTED).actor == "ops@gateway"

    def test_it_refuses_a_mandate_without_its_source(self, alice: Citizen, odette: Citizen) -> None:
        with pytest.raises(CommandError):
            call_command(
                "record_legal_mandate",
                principal=str(odette.pk),
                agent=str(alice.pk),
                types="dgfip.avis-imposition",
                until="2099-12-31",
                source=" ",
                operator="ops",
            )
        assert Mandate.objects.count() == 0


class TestOverHttp:
    """The same, with the register and the attestations served by the sandbox provider over real
    HTTP (docs/provider-api.yaml), and a departure recorded in the sandbox's register."""

    def test_the_register_is_asked_over_http_and_a_departure_there_stops_the_representative(
        self,
        sandbox_url: str,
        client: Client,
        make_caller: Callable[..., ApiCaller],
        mairie: Organisation,
        joinery: Company,
        bob: Citizen,
        tender: Any,
    ) -> None:
        catalogue_load(adapter_kind="http", base_url=sandbox_url)
        consent = approve(tender(joinery, [VIGILANCE]), bob)
        caller = make_caller(mairie, scopes=f"attestations:{VIGILANCE}")
        got = client.get(f"/api/v1/attestations/{VIGILANCE}?consent={consent.pk}", headers=caller.headers)
        departure = requests.put(
            f"{sandbox_url}/_sandbox/register/departures",
            json={"siren": joinery.siren, "person_index": 1},
            headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
            timeout=5,
        )
        try:
            with pytest.raises(ActingRefused) as refused:
                approve(tender(joinery, [VIGILANCE]), bob)
        finally:
            requests.delete(
                f"{sandbox_url}/_sandbox/register/departures",
                headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
                timeout=5,
            )

        assert consent.ground == Ground.LEGAL_REPRESENTATIVE
        assert got.status_code == 200, got.content
        assert got.json()["attestation"]["subject_ref"] == joinery.ref
        assert departure.status_code == 200
        assert refusal(refused) == "register_not_listed"


class TestInteractiveFlow:
    def test_a_companys_attestation_cannot_be_asked_for_in_a_persons_own_login(
        self, mairie: Organisation, make_caller: Callable[..., ApiCaller]
    ) -> None:
        caller = make_caller(mairie)

        with pytest.raises(ValidationError) as refused:
            interactive_request_build(consumer=mairie, client=caller.application, attestation_types=[VIGILANCE])

        assert refused.value.extra["errors"]["attestation_types"][0]["code"] == "subject_kind_mismatch"


def test_a_company_siren_is_the_start_of_its_siret(companies: None) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Company.objects.create(siren="123456789", siret="73282932000074", name="Autre")


class TestCompanyRenewal:
    """A company's consent is renewed like a person's: the new request names the company, waits on
    the company's page for whoever may act for it, and the person who decided the consent is told."""

    def test_the_administration_asks_and_a_representative_renews_for_the_company(
        self,
        client: Client,
        mairie_caller: ApiCaller,
        joinery: Company,
        bob: Citizen,
        alice: Citizen,
        tender: Any,
        smtp: SmtpServer,
    ) -> None:
        given = ending_in(approve(tender(joinery), bob), 20)
        Citizen.objects.filter(pk=bob.pk).update(email="bob@menuiserie.example.fr")

        response = client.post(f"/api/v1/consents/{given.pk}/renewal", headers=mairie_caller.headers)

        assert response.status_code == 201, response.content
        assert response.json()["subject"]["siret"] == joinery.siret
        renewal = Consent.objects.get(pk=response.json()["id"])
        assert (renewal.company, renewal.citizen, renewal.renews, renewal.addressee) == (joinery, None, given, "")
        assert renewal_tell(consent_id=renewal.pk) is True  # what the task does after the commit
        [message] = smtp.wait_for(1)
        assert message["To"] == "bob@menuiserie.example.fr"
        body = message.get_payload(decode=True).decode()
        assert f"demande à {joinery.name} de renouveler le consentement donné en son nom" in body
        assert f"/consentements/demandes/{renewal.pk}/" in body

        browser = Client()
        login(browser, 1)  # bob
        assert approval_path(renewal) in browser.get(f"/entreprises/{joinery.siren}/").content.decode()
        with pytest.raises(ActingRefused):
            approve(renewal, alice)
        renewed = approve(renewal, bob)
        assert (renewed.status, renewed.company, renewed.ground) == ("active", joinery, Ground.LEGAL_REPRESENTATIVE)
