from __future__ import annotations

from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

from audit.models import ActorKind, AuditEvent
from audit.services import Actor
from providers.models import AttestationType, Habilitation, Organisation
from providers.services import habilitation_submit

CHANGELIST = "/admin/providers/habilitation/"


@pytest.fixture
def operator(db: None) -> User:
    return User.objects.create_superuser("operateur", "operateur@example.invalid", "a-long-test-password")


@pytest.fixture
def operator_client(client: Client, operator: User) -> Client:
    client.force_login(operator)
    return client


@pytest.fixture
def submitted(cd_rhone: Organisation) -> Habilitation:
    return habilitation_submit(
        consumer=cd_rhone,
        attestation_type=AttestationType.objects.get(slug="cnaf.quotient-familial"),
        fields=["quotient_familial"],
        purpose_code="tarification-sociale",
        purpose_text="Cantine",
        legal_basis="CRPA art. L. 114-8",
        retention_days=30,
        dpo_email="dpo@cd-rhone.sandbox.invalid",
        actor=Actor(ActorKind.CONSUMER, cd_rhone.siret),
    )


def run_action(client: Client, action: str, habilitation: Habilitation, **extra: str) -> str:
    response = client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [str(habilitation.pk)], "index": "0", **extra},
        follow=True,
    )
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
class TestHabilitationAdmin:
    def test_it_approves_through_the_service_as_the_operator(
        self, operator_client: Client, submitted: Habilitation
    ) -> None:
        run_action(operator_client, "approve", submitted, valid_until="2099-12-31")

        stored = Habilitation.objects.get(pk=submitted.pk)
        assert stored.status == "approved"
        assert str(stored.valid_until) == "2099-12-31"
        event = AuditEvent.objects.filter(type="habilitation.approved").get(detail__habilitation_id=str(submitted.pk))
        assert (event.actor_kind, event.actor) == ("operator", "operateur")

    def test_it_shows_the_typed_error_and_changes_nothing(
        self, operator_client: Client, submitted: Habilitation
    ) -> None:
        html = run_action(operator_client, "revoke", submitted, reason="Fin de convention")

        assert "invalid_transition" in html
        assert Habilitation.objects.get(pk=submitted.pk).status == "submitted"
        assert not AuditEvent.objects.filter(type="habilitation.revoked").exists()

    def test_it_requires_a_reason_to_refuse(self, operator_client: Client, submitted: Habilitation) -> None:
        html = run_action(operator_client, "refuse", submitted, reason="")

        assert "validation_error" in html
        assert Habilitation.objects.get(pk=submitted.pk).status == "submitted"

        run_action(operator_client, "refuse", submitted, reason="Finalité non justifiée")
        stored = Habilitation.objects.get(pk=submitted.pk)
        assert (stored.status, stored.status_reason) == ("refused", "Finalité non justifiée")

    def test_it_offers_no_way_to_edit_or_add_a_habilitation_by_hand(
        self, operator_client: Client, submitted: Habilitation
    ) -> None:
        assert operator_client.get(f"{CHANGELIST}add/").status_code == 403
        response = operator_client.post(f"{CHANGELIST}{submitted.pk}/change/", {"status": "approved"})
        assert Habilitation.objects.get(pk=submitted.pk).status == "submitted"
        assert response.status_code in {200, 302}

    @pytest.mark.parametrize(
        "url",
        [
            "/admin/providers/organisation/",
            "/admin/providers/attestationtype/",
            "/admin/providers/habilitation/",
            "/admin/providers/apiclient/",
        ],
    )
    def test_it_lists_each_model(self, operator_client: Client, catalogue: None, url: str) -> None:
        assert operator_client.get(url).status_code == 200

    def test_it_edits_a_type_with_its_fields_inline(self, operator_client: Client, catalogue: None) -> None:
        qf = AttestationType.objects.get(slug="cnaf.quotient-familial")

        html = operator_client.get(f"/admin/providers/attestationtype/{qf.pk}/change/").content.decode()

        assert "quotient_familial" in html


@pytest.mark.django_db
class TestOrganisationAdmin:
    def change(self, client: Client, organisation: Organisation, origins: str) -> Any:
        form = {
            "siret": organisation.siret,
            "code": organisation.code,
            "name": organisation.name,
            "kind": organisation.kind,
            "dpo_email": organisation.dpo_email,
            "active": "on",
            "rate_limit_per_minute": "",
            "webhook_url": "",
            "return_url_origins": origins,
            "created_at_0": organisation.created_at.strftime("%Y-%m-%d"),
            "created_at_1": organisation.created_at.strftime("%H:%M:%S"),
        }
        return client.post(f"/admin/providers/organisation/{organisation.pk}/change/", form)

    def test_it_edits_the_return_url_origins_one_per_line(
        self, operator_client: Client, cd_rhone: Organisation
    ) -> None:
        page = operator_client.get(f"/admin/providers/organisation/{cd_rhone.pk}/change/")
        assert 'name="return_url_origins"' in page.content.decode()

        response = self.change(
            operator_client, cd_rhone, "https://demarches.rhone.fr\r\n\r\nhttps://www.rhone.fr:8443\r\n"
        )

        assert response.status_code == 302, response.content.decode()
        cd_rhone.refresh_from_db()
        assert cd_rhone.return_url_origins == ["https://demarches.rhone.fr", "https://www.rhone.fr:8443"]

    def test_it_refuses_an_origin_with_a_path_and_keeps_the_old_ones(
        self, operator_client: Client, mairie: Organisation
    ) -> None:
        before = list(mairie.return_url_origins)

        response = self.change(operator_client, mairie, "https://demarches.villeurbanne.fr/retour")

        assert response.status_code == 200
        assert "write https://demarches.villeurbanne.fr (scheme, host and port" in response.content.decode()
        mairie.refresh_from_db()
        assert mairie.return_url_origins == before
