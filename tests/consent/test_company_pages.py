"""The pages of acting for a company, through the demo login and the demo register: the acting-for
switch, the company's page, the approval page, delegating and accepting, refusals as clear pages,
the company's history with proofs."""

from __future__ import annotations

import datetime as dt
import html
import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from django.test import Client
from django.utils import timezone

from audit.models import AuditEvent, EventType
from audit.sealer import log_seal
from consent.demo import companies_load
from consent.models import Company, Consent, Mandate
from consent.rules import citizen_pivot_hash
from consent.services import consent_approve, consent_request_create
from consent.services.citizens import citizen_from_demo
from consent.services.representation import legal_mandate_record
from providers.adapters.demo import demo_register
from providers.demo import catalogue_load
from providers.models import Organisation
from tests.conftest import SANDBOX_TOKEN
from tests.consent.test_pages import csrf, login

pytestmark = pytest.mark.django_db

VIGILANCE = "urssaf.attestation-vigilance"
PAGE_QUERIES = 14
# A delegation lasts three years at most.
NEXT_YEAR = (dt.date.today() + dt.timedelta(days=365)).isoformat()
FISCALE = "dgfip.attestation-fiscale"


@pytest.fixture(autouse=True)
def register() -> Iterator[None]:
    yield
    demo_register().reinstate()


@pytest.fixture
def joinery(catalogue: None) -> Company:
    companies_load()
    return Company.objects.get(siret=demo_register()[0].siret)


def tender(mairie: Organisation, company: Company, types: list[str]) -> Consent:
    return consent_request_create(
        consumer=mairie,
        client=None,
        attestation_types=types,
        fields=None,
        purpose_code="marche-public",
        purpose_text="Marché 2026-017",
        duration_days=90,
        max_uses=None,
        company_siret=company.siret,
    )


def post(client: Client, path: str, data: dict[str, Any], page: str) -> Any:
    return client.post(path, {**data, "csrfmiddlewaretoken": csrf(client, page)})


def test_a_representative_adds_the_company_and_approves_a_public_buyers_request(
    client: Client, mairie: Organisation, joinery: Company
) -> None:
    waiting = tender(mairie, joinery, [VIGILANCE, FISCALE])
    login(client, 1)

    added = post(client, "/entreprises/ajouter/", {"siret": joinery.siret}, "/mes-consentements/")
    dashboard = client.get("/mes-consentements/").content.decode()
    page = client.get(f"/entreprises/{joinery.siren}/").content.decode()
    approval = client.get(f"/consentements/demandes/{waiting.pk}/").content.decode()
    approved = post(
        client, f"/consentements/demandes/{waiting.pk}/accepter/", {}, f"/consentements/demandes/{waiting.pk}/"
    )

    assert added.status_code == 302 and added["Location"] == f"/entreprises/{joinery.siren}/"
    assert "Menuiserie Exemple" in dashboard and "représentant légal" in dashboard
    assert "Vous agissez pour Menuiserie Exemple" in page
    assert "Vous agissez pour Menuiserie Exemple" in approval
    assert f'href="http://127.0.0.1:8000/entreprises/{joinery.siren}/">la page de l' in approval
    assert approved.status_code == 302
    assert Consent.objects.get(pk=waiting.pk).status == "active"


def test_someone_the_register_does_not_list_gets_a_clear_page_and_nothing_is_done(
    client: Client, mairie: Organisation, joinery: Company
) -> None:
    waiting = tender(mairie, joinery, [VIGILANCE])
    login(client, 0)

    page = client.get(f"/entreprises/{joinery.siren}/")
    approval = client.get(f"/consentements/demandes/{waiting.pk}/")
    added = post(client, "/entreprises/ajouter/", {"siret": joinery.siret}, "/mes-consentements/")

    assert page.status_code == approval.status_code == 403
    assert "ne vous mentionne pas" in page.content.decode()
    assert added.status_code == 302 and added["Location"].endswith("#acting-for")
    assert Consent.objects.get(pk=waiting.pk).status == "pending"


def test_the_delegation_journey_within_and_outside_scope_then_revoked(
    client: Client, mairie: Organisation, joinery: Company
) -> None:
    bob = login(client, 1)
    company_page = f"/entreprises/{joinery.siren}/"
    created = post(
        client,
        f"/entreprises/{joinery.siren}/deleguer/",
        {"attestation_types": [VIGILANCE], "actions": ["approve", "read_history"], "valid_until": NEXT_YEAR},
        company_page,
    )
    # The link is shown once, on the company's page the browser is sent to: a reload creates nothing.
    assert created.status_code == 302 and created["Location"] == company_page + "#invitation"
    shown = client.get(company_page).content.decode()
    link = re.search(r'<code id="invitation-url">[^<]*(/mandats/invitation/[^/<]+/)</code>', shown)
    assert link, shown[:2000]
    assert 'id="invitation-url"' not in client.get(company_page).content.decode()
    assert Mandate.objects.filter(principal_company=joinery).count() == 1

    accountant = Client()
    login(accountant, 0)
    offered = accountant.get(link.group(1))
    accepted = post(accountant, link.group(1), {}, link.group(1))
    stranger = Client()
    login(stranger, 2)
    used = stranger.get(link.group(1))  # it worked once: a clear page, not a bare 404
    assert used.status_code == 404 and "Ce lien d'invitation ne fonctionne plus" in html.unescape(used.content.decode())
    within = tender(mairie, joinery, [VIGILANCE])
    outside = tender(mairie, joinery, [VIGILANCE, FISCALE])
    # The delegate's page shows, and offers to pass on, only what the delegation covers.
    theirs = accountant.get(company_page).content.decode()
    assert f"/consentements/demandes/{within.pk}/" in theirs and f"/consentements/demandes/{outside.pk}/" not in theirs
    assert f'value="{VIGILANCE}"' in theirs and f'value="{FISCALE}"' not in theirs
    assert 'name="actions" value="approve"' in theirs and 'name="actions" value="revoke"' not in theirs
    ok = post(accountant, f"/consentements/demandes/{within.pk}/accepter/", {}, f"/consentements/demandes/{within.pk}/")
    refused = accountant.get(f"/consentements/demandes/{outside.pk}/")

    assert "Menuiserie Exemple" in offered.content.decode()
    assert f"{bob.display_name} vous propose une délégation" in html.unescape(offered.content.decode())
    assert accepted.status_code == 302
    assert ok.status_code == 302 and Consent.objects.get(pk=within.pk).ground == "delegate"
    assert refused.status_code == 403 and "ne couvre pas" in refused.content.decode()

    mandate = Mandate.objects.get(status="active")
    post(client, f"/entreprises/{joinery.siren}/delegations/{mandate.pk}/retirer/", {}, company_page)
    later = tender(mairie, joinery, [VIGILANCE])
    after = accountant.get(f"/consentements/demandes/{later.pk}/")

    assert Mandate.objects.get(pk=mandate.pk).status == "revoked"
    assert after.status_code == 403 and "a pris fin" in after.content.decode()


def test_the_company_history_lists_every_access_with_a_proof(
    client: Client, mairie: Organisation, joinery: Company
) -> None:
    waiting = tender(mairie, joinery, [VIGILANCE])
    login(client, 1)
    post(client, f"/consentements/demandes/{waiting.pk}/accepter/", {}, f"/consentements/demandes/{waiting.pk}/")
    log_seal()

    history = html.unescape(client.get(f"/entreprises/{joinery.siren}/historique/").content.decode())
    event = AuditEvent.objects.filter(type=EventType.CONSENT_APPROVED, citizen_ref=joinery.ref).get()
    proof = client.get(f"/entreprises/{joinery.siren}/historique/{event.pk}/preuve.json")

    assert "Consentement donné pour l'entreprise : Mairie de Villeurbanne peut obtenir" in history
    assert f"/entreprises/{joinery.siren}/historique/{event.pk}/preuve.json" in history
    assert proof.status_code == 200 and proof.json()["event"]["citizen_ref"] == joinery.ref


def test_a_legal_mandate_shows_on_both_dashboards(client: Client, catalogue: None) -> None:
    guardian = login(client, 0)
    ward_client = Client()
    ward = login(ward_client, 2)
    legal_mandate_record(
        principal=ward,
        agent=guardian,
        types=["dgfip.avis-imposition"],
        actions=["read_history"],
        valid_until=timezone.now() + dt.timedelta(days=365),
        legal_source="Jugement de tutelle RG 25/01234",
        operator="ops",
    )

    theirs = html.unescape(client.get("/mes-consentements/").content.decode())
    mine = html.unescape(ward_client.get("/mes-consentements/").content.decode())

    assert f"Pour {ward.display_name}, par mandat légal" in theirs
    assert f"{guardian.display_name}, par mandat légal" in mine and "RG 25/01234" in mine


def test_the_receipt_of_a_companys_consent_says_who_decided_on_what_ground(
    client: Client, mairie: Organisation, joinery: Company
) -> None:
    waiting = tender(mairie, joinery, [VIGILANCE])
    login(client, 1)
    post(client, f"/consentements/demandes/{waiting.pk}/accepter/", {}, f"/consentements/demandes/{waiting.pk}/")

    receipt = client.get(f"/entreprises/{joinery.siren}/consentements/{waiting.pk}/recu.json").json()
    outsider = Client()
    login(outsider, 0)

    assert receipt["pii_principal"]["id"] == joinery.ref
    assert receipt["pii_principal"]["company"]["siret"] == joinery.siret
    assert receipt["decided_by"]["role"] == "legal_representative"
    assert receipt["artefact"]["jws"]
    assert outsider.get(f"/entreprises/{joinery.siren}/consentements/{waiting.pk}/recu.json").status_code == 403


def request_under_legal_mandate(mairie: Organisation, guardian: Any, ward: Any, slug: str) -> Consent:
    """A legal mandate for `guardian` to approve `slug` for `ward`, and a request for it addressed
    to the ward."""
    legal_mandate_record(
        principal=ward,
        agent=guardian,
        types=[slug],
        actions=["approve"],
        valid_until=timezone.now() + dt.timedelta(days=365),
        legal_source="Jugement de tutelle RG 25/01234",
        operator="ops",
    )
    return consent_request_create(
        consumer=mairie,
        client=None,
        attestation_types=[slug],
        fields=None,
        purpose_code="tarification-sociale",
        purpose_text="Tarif de la cantine",
        duration_days=30,
        max_uses=None,
        pivot_identity_hash=citizen_pivot_hash(ward),
    )


def test_a_guardian_decides_a_request_addressed_to_the_person_under_a_legal_mandate(
    client: Client, mairie: Organisation, catalogue: None
) -> None:
    guardian = login(client, 0)
    ward = citizen_from_demo(index=2)
    addressed = request_under_legal_mandate(mairie, guardian, ward, "dgfip.avis-imposition")
    other = consent_request_create(
        consumer=mairie,
        client=None,
        attestation_types=["cnaf.quotient-familial"],
        fields=None,
        purpose_code="tarification-sociale",
        purpose_text="Tarif de la cantine",
        duration_days=30,
        max_uses=None,
        pivot_identity_hash=citizen_pivot_hash(ward),
    )

    page = html.unescape(client.get(f"/consentements/demandes/{addressed.pk}/").content.decode())
    decided = post(
        client, f"/consentements/demandes/{addressed.pk}/accepter/", {}, f"/consentements/demandes/{addressed.pk}/"
    )
    outside = client.get(f"/consentements/demandes/{other.pk}/")

    assert f"Vous agissez pour {ward.display_name}, par mandat légal" in page
    assert decided.status_code == 302
    addressed.refresh_from_db()
    assert (addressed.status, addressed.citizen, addressed.actor, addressed.ground) == (
        "active",
        ward,
        guardian,
        "legal_mandate",
    )
    approved = AuditEvent.objects.get(type=EventType.CONSENT_APPROVED, consent_id=addressed.pk)
    assert (approved.citizen_ref, approved.actor, approved.detail["ground"]) == (
        ward.ref,
        guardian.ref,
        "legal_mandate",
    )
    assert outside.status_code == 403


def test_the_company_page_query_count_does_not_grow_with_its_consents_and_delegations(
    client: Client, mairie: Organisation, joinery: Company, django_assert_num_queries: Any
) -> None:
    login(client, 1)
    page = f"/entreprises/{joinery.siren}/"
    tender(mairie, joinery, [VIGILANCE])
    client.get(page)
    # Session, citizen, company, mandates held, the register check and its event (a savepoint, an
    # insert each, the lapse sweep), the consents with their items, the delegations.
    with django_assert_num_queries(PAGE_QUERIES):
        assert client.get(page).status_code == 200
    for _ in range(3):
        waiting = tender(mairie, joinery, [VIGILANCE, FISCALE])
        post(client, f"/consentements/demandes/{waiting.pk}/accepter/", {}, f"/consentements/demandes/{waiting.pk}/")
        post(
            client,
            f"/entreprises/{joinery.siren}/deleguer/",
            {"attestation_types": [VIGILANCE], "actions": ["approve"], "valid_until": NEXT_YEAR},
            page,
        )
    client.get(page)  # shows the last delegation's link, once (the session changes)

    with django_assert_num_queries(PAGE_QUERIES):
        assert client.get(page).content.decode().count("/recu.json") == 3


def test_a_guardian_reads_the_persons_history_with_proofs_only_under_a_mandate_that_allows_it(
    client: Client, catalogue: None
) -> None:
    guardian = login(client, 0)
    ward = citizen_from_demo(index=2)
    until = timezone.now() + dt.timedelta(days=365)
    reading = legal_mandate_record(
        principal=ward,
        agent=guardian,
        types=["dgfip.avis-imposition"],
        actions=["read_history"],
        valid_until=until,
        legal_source="Jugement de tutelle RG 25/01234",
        operator="ops",
    )
    deciding = legal_mandate_record(
        principal=citizen_from_demo(index=3),
        agent=guardian,
        types=["mesr.statut-etudiant"],
        actions=["approve"],
        valid_until=until,
        legal_source="Autorité parentale (acte de naissance)",
        operator="ops",
    )
    log_seal()

    history = client.get(f"/mandats/{reading.pk}/historique/")
    event = AuditEvent.objects.get(type=EventType.MANDATE_GRANTED, citizen_ref=ward.ref)
    proof = client.get(f"/mandats/{reading.pk}/historique/{event.pk}/preuve.json")
    not_allowed = client.get(f"/mandats/{deciding.pk}/historique/")
    stranger = Client()
    login(stranger, 1)

    assert history.status_code == 200
    assert "Un mandat légal pour agir au nom de cette personne a été enregistré" in html.unescape(
        history.content.decode()
    )
    assert f"/mandats/{reading.pk}/historique/{event.pk}/preuve.json" in history.content.decode()
    assert proof.status_code == 200 and proof.json()["event"]["citizen_ref"] == ward.ref
    assert not_allowed.status_code == 403
    assert stranger.get(f"/mandats/{reading.pk}/historique/").status_code == 404


def test_a_guardian_withdraws_the_persons_consent_only_under_a_mandate_that_allows_it(
    client: Client, mairie: Organisation, catalogue: None
) -> None:
    guardian = login(client, 0)
    ward = citizen_from_demo(index=2)
    until = timezone.now() + dt.timedelta(days=365)
    approving = legal_mandate_record(
        principal=ward,
        agent=guardian,
        types=["dgfip.avis-imposition"],
        actions=["approve"],
        valid_until=until,
        legal_source="Jugement de tutelle RG 25/01234",
        operator="ops",
    )
    consent = consent_approve(
        consent=consent_request_create(
            consumer=mairie,
            client=None,
            attestation_types=["dgfip.avis-imposition"],
            fields=None,
            purpose_code="tarification-sociale",
            purpose_text="Tarif de la cantine",
            duration_days=30,
            max_uses=None,
        ),
        citizen=ward,
        eidas_level="eidas2",
    )
    withdraw = f"/mandats/{approving.pk}/consentements/{consent.pk}/retirer/"

    page = html.unescape(client.get(f"/mandats/{approving.pk}/").content.decode())
    refused = post(client, withdraw, {}, f"/mandats/{approving.pk}/")
    Mandate.objects.filter(pk=approving.pk).update(actions=["approve", "revoke"])
    done = post(client, withdraw, {}, f"/mandats/{approving.pk}/")

    assert f"Vous agissez pour {ward.display_name}, par mandat légal" in page and "Mairie de Villeurbanne" in page
    assert refused.status_code == 403
    assert done.status_code == 302
    consent.refresh_from_db()
    assert consent.status == "revoked"
    revoked = AuditEvent.objects.get(type=EventType.CONSENT_REVOKED, consent_id=consent.pk)
    assert (revoked.citizen_ref, revoked.actor, revoked.detail["ground"]) == (ward.ref, guardian.ref, "legal_mandate")


def test_a_register_that_cannot_answer_lets_nobody_in_with_a_clear_page(
    client: Client, mairie: Organisation, joinery: Company, sandbox_url: str
) -> None:
    waiting = tender(mairie, joinery, [VIGILANCE])
    catalogue_load(adapter_kind="http", base_url=sandbox_url)
    login(client, 1)
    fault = requests.put(
        f"{sandbox_url}/_sandbox/faults",
        json={"mode": "error", "slug": "inpi.mandataires-sociaux"},
        headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"},
        timeout=5,
    )

    page = client.get(f"/consentements/demandes/{waiting.pk}/")

    assert fault.status_code == 200
    assert page.status_code == 503
    assert "n'a pas pu être joint" in html.unescape(page.content.decode())
    assert Consent.objects.get(pk=waiting.pk).status == "pending"


def test_the_company_history_says_who_acted_and_pages_back_to_the_first_event(
    client: Client, mairie: Organisation, joinery: Company, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("consent.views.history.PAGE_SIZE", 3)
    waiting = tender(mairie, joinery, [VIGILANCE])
    bob = login(client, 1)
    page = f"/consentements/demandes/{waiting.pk}/"
    post(client, page + "accepter/", {}, page)
    for _ in range(4):  # every look at the company's page asks the register again
        client.get(f"/entreprises/{joinery.siren}/")

    newest = html.unescape(client.get(f"/entreprises/{joinery.siren}/historique/").content.decode())
    older_link = re.search(r'href="(/entreprises/\d+/historique/\?before=\d+)"', newest)
    assert older_link is not None and f"Le registre a indiqué {bob.display_name} (Gérant)." in newest
    pages, link = [newest], older_link.group(1)
    while link:
        pages.append(html.unescape(client.get(link).content.decode()))
        found = re.search(r'href="(/entreprises/\d+/historique/\?before=\d+)"', pages[-1])
        link = found.group(1) if found else ""
    everything = "".join(pages)

    assert "Mairie de Villeurbanne a demandé à l'entreprise l'accès" in pages[-1]  # the first event
    assert (
        f"Par {bob.display_name}, représentant légal de l’entreprise (vérifié dans le registre des entreprises)."
        in everything
    )
    # Every event up to the newest page's first, each once (each visit of the history asks the register again).
    shown = [int(found) for found in re.findall(r'id="event-(\d+)"', everything)]
    recorded = AuditEvent.objects.filter(citizen_ref=joinery.ref, pk__lte=shown[0]).values_list("pk", flat=True)
    assert sorted(shown) == sorted(recorded)


def test_the_decided_request_leads_to_the_company_s_page_and_its_receipt_too(
    client: Client, mairie: Organisation, joinery: Company
) -> None:
    waiting = tender(mairie, joinery, [VIGILANCE])
    login(client, 1)
    page = f"/consentements/demandes/{waiting.pk}/"
    post(client, page + "accepter/", {}, page)

    decided = client.get(page).content.decode()
    receipt = client.get(f"/entreprises/{joinery.siren}/consentements/{waiting.pk}/recu.json").json()

    assert f'href="/entreprises/{joinery.siren}/"' in decided and f"/mes-consentements/{waiting.pk}/" not in decided
    assert receipt["withdrawal"]["url"].endswith(f"/entreprises/{joinery.siren}/")


def test_a_legal_mandate_past_its_end_opens_nothing_and_says_so_of_a_person(client: Client, catalogue: None) -> None:
    guardian = login(client, 0)
    mandate = legal_mandate_record(
        principal=citizen_from_demo(index=3),
        agent=guardian,
        types=["dgfip.avis-imposition"],
        actions=["revoke", "read_history"],
        valid_until=timezone.now() + dt.timedelta(days=30),
        legal_source="Jugement de tutelle RG 25/01234",
        operator="ops",
    )
    assert client.get(f"/mandats/{mandate.pk}/").status_code == 200
    Mandate.objects.filter(pk=mandate.pk).update(valid_until=timezone.now() - dt.timedelta(days=1))

    for path in (f"/mandats/{mandate.pk}/", f"/mandats/{mandate.pk}/historique/"):
        refused = client.get(path)
        text = html.unescape(refused.content.decode())
        assert refused.status_code == 403, path
        assert "Vous ne pouvez pas agir pour cette personne" in text
        assert "Votre mandat légal pour cette personne a pris fin" in text and "entreprise" not in text


def test_the_person_s_own_history_says_what_their_guardian_did_for_them(
    client: Client, mairie: Organisation, catalogue: None
) -> None:
    guardian = login(client, 0)
    ward_client = Client()
    ward = login(ward_client, 2)
    waiting = request_under_legal_mandate(mairie, guardian, ward, "cnaf.quotient-familial")
    page = f"/consentements/demandes/{waiting.pk}/"
    opened = html.unescape(client.get(page).content.decode())
    decided = post(client, page + "accepter/", {}, page)
    mandate = Mandate.objects.get(principal_citizen=ward)
    landed = html.unescape(client.get(decided["Location"]).content.decode())

    assert "Demande d'accès aux données de la personne pour qui vous agissez" in opened
    assert f"à propos de {ward.display_name}" in opened and "au lieu de vous demander" not in opened
    assert decided["Location"] == f"/mandats/{mandate.pk}/"
    assert f"Consentement donné pour {ward.display_name}" in landed
    own = html.unescape(ward_client.get("/mes-consentements/historique/").content.decode())

    assert "Une personne agissant pour vous par mandat légal a accepté que Mairie de Villeurbanne obtienne" in own
    assert f"Par {guardian.display_name}, par mandat légal (Jugement de tutelle RG 25/01234)." in own
    assert "Un mandat légal pour agir en votre nom a été enregistré" in own
    assert "Vous avez accepté" not in own
