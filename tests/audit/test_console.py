"""The auditor console: agents with the auditor role only, every search and export recorded."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any
from urllib.parse import quote

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.test import Client
from django.utils import translation

from audit.models import ActorKind, AuditEvent, EventType, Objection
from audit.sealer import log_seal, log_verifier_key
from audit.selectors import checkpoint_latest
from audit.services import Actor, event_record, objection_answer
from audit.tlog.export import verify_export
from core.errors import PermissionDeniedError
from providers.models import Agent, Organisation
from providers.services import role_revoke
from tests.agents import OPERATOR, make_agent

CONSOLE = "/audit/console/"
ALICE_REF = "a" * 64


@pytest.fixture
def trail(record: Callable[..., Any]) -> None:
    for _ in range(3):
        record(citizen_ref=ALICE_REF)
    assert log_seal() is not None


@pytest.fixture
def inspectrice(supervisor: Organisation) -> Agent:
    return make_agent(supervisor, "inspectrice", roles=["auditor"])


@pytest.fixture
def auditor(inspectrice: Agent) -> User:
    return inspectrice.user


def _auditor_events() -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(type__startswith="auditor.").order_by("id"))


@pytest.mark.usefixtures("trail")
class TestAccess:
    @pytest.mark.parametrize("path", [CONSOLE, CONSOLE + "export.jsonl", CONSOLE + "objections/"])
    def test_an_anonymous_visitor_goes_to_the_agents_login_and_back(self, client: Client, path: str) -> None:
        # The home page links the console: a link to a 404 helped nobody.
        response = client.get(path + "?search=1")

        assert response.status_code == 302
        assert response["Location"] == "/agents/connexion/?next=" + quote(path + "?search=1")
        assert _auditor_events() == []

    def test_an_operator_even_a_superuser_gets_403(self, client: Client) -> None:
        client.force_login(User.objects.create_superuser("operateur", password="correct horse battery staple"))

        assert client.get(CONSOLE).status_code == 403
        assert client.get(CONSOLE + "export.csv").status_code == 403
        assert _auditor_events() == []

    @pytest.mark.parametrize("roles", [[], ["administrator", "habilitation_manager"]])
    def test_an_agent_without_the_auditor_role_gets_403(
        self, client: Client, cnaf: Organisation, roles: list[str]
    ) -> None:
        client.force_login(make_agent(cnaf, "collegue", roles=roles).user)

        assert client.get(CONSOLE).status_code == 403
        assert _auditor_events() == []

    def test_a_revoked_role_is_refused_at_the_next_request(self, client: Client, inspectrice: Agent) -> None:
        client.force_login(inspectrice.user)
        assert client.get(CONSOLE).status_code == 200

        role_revoke(agent=inspectrice, role="auditor", actor=OPERATOR)

        assert client.get(CONSOLE).status_code == 403

    def test_only_an_auditor_s_menu_links_to_the_console(
        self, client: Client, cnaf: Organisation, auditor: User
    ) -> None:
        link = f'class="fr-nav__link" href="{CONSOLE}"'
        assert link not in client.get("/").content.decode()
        client.force_login(make_agent(cnaf, "collegue", roles=["administrator"]).user)
        assert link not in client.get("/").content.decode()
        client.force_login(auditor)
        assert link in client.get("/").content.decode()

    def test_the_console_s_login_is_the_agents_login(self, client: Client, auditor: User) -> None:
        response = client.get(CONSOLE + "login/")

        assert response.status_code == 302
        assert response["Location"] == "/agents/connexion/?next=/audit/console/"
        client.force_login(auditor)
        page = client.get(CONSOLE)
        assert page.status_code == 200
        assert "Vérification complète réussie" in page.content.decode()


@pytest.mark.usefixtures("trail")
class TestSearch:
    def test_a_search_is_recorded_and_lists_events(self, client: Client, auditor: User) -> None:
        client.force_login(auditor)

        page = client.get(CONSOLE, {"search": "1", "type": "exchange.succeeded"})

        assert page.status_code == 200
        assert page.content.decode().count("<td>Échange réussi</td>") == 3
        assert "<td>exchange.succeeded</td>" not in page.content.decode()
        (event,) = _auditor_events()
        assert (event.type, event.actor, event.detail) == (
            "auditor.searched",
            auditor.agent.actor_id,
            {"type": "exchange.succeeded"},
        )

    @pytest.mark.parametrize(
        ("language", "option", "cell"),
        [
            ("fr", '<option value="consent.approved">Consentement donné</option>', "<td>Échange réussi</td>"),
            ("en", '<option value="consent.approved">Consent given</option>', "<td>Exchange succeeded</td>"),
        ],
    )
    def test_event_types_read_as_words_in_the_person_s_language(
        self, client: Client, auditor: User, language: str, option: str, cell: str
    ) -> None:
        client.force_login(auditor)
        client.cookies["django_language"] = language

        page = client.get(CONSOLE, {"search": "1", "type": "exchange.succeeded"}).content.decode()

        assert option in page and cell in page
        assert "Consent Approved" not in page and "Oauth Refused" not in page

    def test_times_are_utc_to_the_second(self, client: Client, auditor: User) -> None:
        client.force_login(auditor)
        event = AuditEvent.objects.filter(type="exchange.succeeded").latest("id")
        checkpoint = checkpoint_latest()
        assert checkpoint is not None

        page = client.get(CONSOLE, {"search": "1", "type": "exchange.succeeded"}).content.decode()

        assert f"<td>{event.occurred_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}</td>" in page
        assert f"{checkpoint.created_at.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S} UTC" in page
        assert not re.search(r"\d{2}:\d{2}:\d{2}\.\d+|[+-]\d{2}:\d{2}<", page)

    def test_a_date_out_of_range_is_a_form_error_not_an_overflow(self, client: Client, auditor: User) -> None:
        client.force_login(auditor)

        page = client.get(CONSOLE, {"search": "1", "date_to": "9999-12-31"})

        assert page.status_code == 200
        assert "fr-error-text" in page.content.decode()
        assert _auditor_events() == []

    def test_a_citizen_search_without_justification_is_refused_and_not_run(self, client: Client, auditor: User) -> None:
        client.force_login(auditor)

        page = client.get(CONSOLE, {"search": "1", "citizen_ref": ALICE_REF})

        assert page.status_code == 200
        assert "fr-error-text" in page.content.decode()
        assert _auditor_events() == []

    def test_exports_are_recorded_and_jsonl_verifies(self, client: Client, auditor: User) -> None:
        client.force_login(auditor)

        csv_response = client.get(
            CONSOLE + "export.csv",
            {"search": "1", "citizen_ref": ALICE_REF, "justification": "Contrôle sur pièces n°7"},
        )
        jsonl_response = client.get(CONSOLE + "export.jsonl")

        assert csv_response.status_code == 200
        assert len(b"".join(csv_response.streaming_content).decode().strip().splitlines()) == 1 + 4
        lines = b"".join(jsonl_response.streaming_content).decode().splitlines(keepends=True)
        assert verify_export(lines, log_verifier_key()).tree_size == 3
        assert [(e.type, e.detail.get("format")) for e in _auditor_events()] == [
            ("auditor.exported", "csv"),
            ("auditor.exported", "jsonl"),
        ]


@pytest.mark.usefixtures("trail")
class TestCacheDown:
    """Redis (the cache holding the verification status) down: the console degrades, it does not fail."""

    @pytest.fixture
    def cache_down(self, settings: Any) -> None:
        from tests.processes import free_port

        # Nothing listens there: every cache call fails as with Redis stopped.
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": f"redis://127.0.0.1:{free_port()}/0",
            }
        }

    @pytest.mark.usefixtures("cache_down")
    def test_it_shows_the_console_and_says_the_status_is_unknown_on_a_big_log(
        self, client: Client, auditor: User, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Too big to verify while the page loads: the status would come from the cache.
        monkeypatch.setattr("audit.views.INLINE_VERIFY_MAX", 0)
        client.force_login(auditor)

        response = client.get(CONSOLE)

        assert response.status_code == 200
        assert "état de la vérification est inconnu" in response.content.decode()

    @pytest.mark.usefixtures("cache_down")
    def test_it_still_verifies_a_small_log_without_the_cache(self, client: Client, auditor: User) -> None:
        client.force_login(auditor)

        response = client.get(CONSOLE)

        assert response.status_code == 200
        page = response.content.decode()
        assert "Vérification complète réussie jusqu'à la taille 3." in page and "inconnu" not in page


class TestImpartiality:
    """An auditor never handles a case about their own organisation."""

    def test_a_case_about_the_auditor_s_own_organisation_is_read_only(
        self, client: Client, inspectrice: Agent, supervisor: Organisation
    ) -> None:
        with transaction.atomic():
            event_id = event_record(
                type=EventType.EXCHANGE_SUCCEEDED,
                actor=Actor(ActorKind.CONSUMER, supervisor.siret),
                citizen_ref=ALICE_REF,
                consumer=supervisor.siret,
            )
        case = Objection.objects.create(
            event_id=event_id, citizen_ref=ALICE_REF, consumer=supervisor.siret, text="Je ne connais pas."
        )
        client.force_login(inspectrice.user)
        path = f"/audit/console/objections/{case.pk}/"

        page = client.get(path).content.decode()
        assert "Ce signalement concerne votre propre organisation" in page
        assert 'name="answer"' not in page
        assert client.post(path, {"answer": "Rien à signaler."}).status_code == 403
        with pytest.raises(PermissionDeniedError):
            objection_answer(
                objection=case, answer="Rien.", actor=Actor(ActorKind.AUDITOR, "x"), actor_siret=supervisor.siret
            )
        case.refresh_from_db()
        assert (case.status, case.answer) == ("open", "")


def test_every_event_type_has_a_french_and_an_english_label() -> None:
    for event_type in EventType:
        default = event_type.value.replace(".", " ").replace("_", " ").title()
        with translation.override("en"):
            english = str(event_type.label)
        with translation.override("fr"):
            french = str(event_type.label)
        assert english != default and french != english, event_type.value
