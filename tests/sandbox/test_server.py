from __future__ import annotations

import http.client
import json
import logging
import re
import socket
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from providers.demodata.catalogue import COMPANY_TYPES, PERSON_TYPES, attestation_type
from providers.demodata.population import Person, demo_citizens
from sandbox.server import (
    FAULT_MODES,
    INTERNAL_ERROR_DETAIL,
    UNDECLARED_FIELDS,
    SandboxProviderServer,
    make_server,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
TOKEN = "test-token"
MAIRIE_SIRET = "21690266800013"
QF = "cnaf.quotient-familial"
AVIS = "dgfip.avis-imposition"


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[SandboxProviderServer]:
    server = make_server("127.0.0.1", 0, population_size=1000, seed=2026, token=TOKEN)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture(autouse=True)
def no_fault(sandbox: SandboxProviderServer) -> Iterator[None]:
    yield
    assert call(sandbox, "DELETE", "/_sandbox/faults").status == 200


@pytest.fixture(scope="module")
def alice(sandbox: SandboxProviderServer) -> Person:
    """Demo citizen known to all five datasets."""
    return demo_citizens(sandbox.population)[0]


@pytest.fixture(scope="module")
def odette(sandbox: SandboxProviderServer) -> Person:
    """Demo citizen known to the DGFiP only."""
    return demo_citizens(sandbox.population)[2]


def call(
    server: SandboxProviderServer,
    method: str,
    path: str,
    payload: Any = None,
    *,
    token: str | None = TOKEN,
    timeout: float = 10,
    headers: dict[str, str] | None = None,
    connection: http.client.HTTPConnection | None = None,
) -> Reply:
    conn = connection or http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    sent_headers = dict(headers or {})
    if token is not None:
        sent_headers["Authorization"] = f"Bearer {token}"
    body = None
    if payload is not None:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sent_headers["Content-Type"] = "application/json"
    try:
        conn.request(method, path, body=body, headers=sent_headers)
        response = conn.getresponse()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
    finally:
        if connection is None:
            conn.close()


def request_body(
    person: Person, fields: list[str], purpose: str = "tarification-sociale", **overrides: Any
) -> dict[str, Any]:
    body = {
        "subject": person.pivot_identity(),
        "fields": fields,
        "purpose": purpose,
        "consumer_siret": MAIRIE_SIRET,
        "exchange_id": str(uuid.uuid4()),
    }
    body.update(overrides)
    return body


def ask(server: SandboxProviderServer, person: Person, slug: str, fields: list[str], **overrides: Any) -> Reply:
    purpose = attestation_type(slug).purposes[0]
    return call(server, "POST", f"/attestations/{slug}", request_body(person, fields, purpose, **overrides))


def set_fault(server: SandboxProviderServer, **fault: Any) -> None:
    reply = call(server, "PUT", "/_sandbox/faults", fault)
    assert reply.status == 200, reply.body


def assert_problem(reply: Reply, status: int, code: str) -> dict[str, Any]:
    assert reply.status == status
    assert reply.headers["content-type"] == "application/problem+json"
    problem = reply.json()
    assert problem["status"] == status
    assert problem["code"] == code
    assert problem["type"].endswith("#" + code)
    assert set(problem) >= {"type", "title", "status", "detail", "code"}
    return problem


# Endpoints


def test_it_answers_the_health_check_without_a_token(sandbox: SandboxProviderServer) -> None:
    reply = call(sandbox, "GET", "/healthz", token=None)

    assert reply.status == 200
    assert reply.json() == {"status": "ok"}
    assert reply.headers["content-length"] == str(len(reply.body))


@pytest.mark.parametrize("spec", PERSON_TYPES, ids=lambda spec: spec.slug)
def test_it_delivers_every_attestation_type(sandbox: SandboxProviderServer, alice: Person, spec: Any) -> None:
    reply = ask(sandbox, alice, spec.slug, list(spec.field_names))

    assert reply.status == 200
    body = reply.json()
    assert body["fields"] == sandbox.population.record(alice, spec.slug)
    jsonschema.validate(body["fields"], spec.json_schema())
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", body["issued_at"])
    assert body["provider_reference"].startswith(spec.holder.upper() + "-")
    assert reply.headers["cache-control"] == "no-store"


@pytest.mark.parametrize("spec", COMPANY_TYPES, ids=lambda spec: spec.slug)
def test_it_delivers_every_company_attestation_type_by_siret(
    sandbox: SandboxProviderServer, alice: Person, spec: Any
) -> None:
    joinery = sandbox.register[0]
    subject = {"siren": joinery.siren, "siret": joinery.siret}

    reply = ask(sandbox, alice, spec.slug, list(spec.field_names), subject=subject)

    assert reply.status == 200
    assert reply.json()["fields"] == sandbox.register.record(joinery, spec.slug)
    jsonschema.validate(reply.json()["fields"], spec.json_schema())


def test_it_refuses_a_company_subject_whose_siret_fails_the_luhn_check(
    sandbox: SandboxProviderServer, alice: Person
) -> None:
    siret = sandbox.register[0].siret
    broken = siret[:-1] + str((int(siret[-1]) + 1) % 10)

    reply = ask(
        sandbox,
        alice,
        "urssaf.attestation-vigilance",
        ["code_securite"],
        subject={"siren": broken[:9], "siret": broken},
    )

    assert assert_problem(reply, 400, "validation_error")["errors"]["subject.siret"]


def test_it_stops_listing_an_officer_who_left_the_company(sandbox: SandboxProviderServer, alice: Person) -> None:
    joinery = sandbox.register[0]
    subject = {"siren": joinery.siren, "siret": joinery.siret}
    assert (
        call(sandbox, "PUT", "/_sandbox/register/departures", {"siren": joinery.siren, "person_index": 1}).status == 200
    )

    left = ask(sandbox, alice, "inpi.mandataires-sociaux", ["mandataires_sociaux"], subject=subject)
    assert call(sandbox, "DELETE", "/_sandbox/register/departures").status == 200
    back = ask(sandbox, alice, "inpi.mandataires-sociaux", ["mandataires_sociaux"], subject=subject)

    assert left.json()["fields"] == {"mandataires_sociaux": []}
    assert len(back.json()["fields"]["mandataires_sociaux"]) == 1


def test_it_returns_only_the_requested_fields(sandbox: SandboxProviderServer, alice: Person) -> None:
    reply = ask(sandbox, alice, QF, ["quotient_familial", "nombre_enfants"])

    assert reply.status == 200
    record = sandbox.population.record(alice, QF)
    assert record is not None
    assert reply.json()["fields"] == {
        "quotient_familial": record["quotient_familial"],
        "nombre_enfants": record["nombre_enfants"],
    }


def test_it_gives_the_same_reference_for_the_same_exchange(sandbox: SandboxProviderServer, alice: Person) -> None:
    exchange_id = str(uuid.uuid4())
    first = ask(sandbox, alice, AVIS, ["revenu_fiscal_reference"], exchange_id=exchange_id).json()
    again = ask(sandbox, alice, AVIS, ["nombre_parts"], exchange_id=exchange_id).json()
    other = ask(sandbox, alice, AVIS, ["nombre_parts"]).json()

    assert first["provider_reference"] == again["provider_reference"]
    assert other["provider_reference"] != first["provider_reference"]


def test_it_matches_the_subject_whatever_the_case_and_accents(sandbox: SandboxProviderServer, alice: Person) -> None:
    subject = alice.pivot_identity()
    subject["nom_naissance"] = subject["nom_naissance"].upper()
    subject["prenoms"] = [name.lower() for name in subject["prenoms"][:1]]

    reply = ask(sandbox, alice, QF, ["quotient_familial"], subject=subject)

    assert reply.status == 200


def test_it_answers_subject_not_found_for_an_unknown_person(sandbox: SandboxProviderServer, alice: Person) -> None:
    subject = {**alice.pivot_identity(), "date_naissance": "1901-01-01"}

    reply = ask(sandbox, alice, QF, ["quotient_familial"], subject=subject)

    assert_problem(reply, 404, "subject_not_found")


def test_it_answers_subject_not_found_for_a_person_outside_the_dataset(
    sandbox: SandboxProviderServer, odette: Person
) -> None:
    reply = ask(sandbox, odette, QF, ["quotient_familial"])

    assert_problem(reply, 404, "subject_not_found")
    assert ask(sandbox, odette, AVIS, ["revenu_fiscal_reference"]).status == 200


def test_it_answers_unknown_attestation_type(sandbox: SandboxProviderServer, alice: Person) -> None:
    reply = call(sandbox, "POST", "/attestations/cnaf.inconnu", request_body(alice, ["x"]))

    assert_problem(reply, 404, "unknown_attestation_type")


def test_it_refuses_unknown_field_names(sandbox: SandboxProviderServer, alice: Person) -> None:
    reply = ask(sandbox, alice, QF, ["quotient_familial", "revenu_fiscal_reference"])

    problem = assert_problem(reply, 400, "validation_error")
    assert problem["errors"] == {"fields": f"Unknown field(s) for {QF}: revenu_fiscal_reference."}


def test_it_refuses_a_body_that_is_not_json(sandbox: SandboxProviderServer) -> None:
    reply = call(sandbox, "POST", f"/attestations/{QF}", b"{not json")

    assert_problem(reply, 400, "validation_error")


def test_it_names_every_invalid_member_without_echoing_it(sandbox: SandboxProviderServer, alice: Person) -> None:
    subject = {**alice.pivot_identity(), "date_naissance": "15/04/2003", "sexe": "X", "code_cog_lieu_naissance": "7"}
    body = request_body(
        alice, ["quotient_familial"], subject=subject, consumer_siret="21690266800014", exchange_id="nope"
    )
    body["purpose"] = "marketing"

    reply = call(sandbox, "POST", f"/attestations/{QF}", body)

    problem = assert_problem(reply, 400, "validation_error")
    assert set(problem["errors"]) == {
        "subject.date_naissance",
        "subject.sexe",
        "subject.code_cog_lieu_naissance",
        "purpose",
        "consumer_siret",
        "exchange_id",
    }
    assert "15/04/2003" not in reply.body.decode()
    assert alice.nom_naissance not in reply.body.decode()


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", f"Basic {TOKEN}", "Bearer"])
def test_it_refuses_a_missing_or_wrong_token(
    sandbox: SandboxProviderServer, alice: Person, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}

    reply = call(
        sandbox, "POST", f"/attestations/{QF}", request_body(alice, ["quotient_familial"]), token=None, headers=headers
    )

    assert_problem(reply, 401, "authentication_required")
    assert reply.headers["www-authenticate"].startswith("Bearer")


def test_it_protects_the_fault_controls_with_the_token(sandbox: SandboxProviderServer) -> None:
    reply = call(sandbox, "PUT", "/_sandbox/faults", {"mode": "error"}, token="wrong")

    assert_problem(reply, 401, "authentication_required")
    assert call(sandbox, "GET", "/_sandbox/faults").json()["mode"] == "none"


def test_it_answers_not_found_and_method_not_allowed(sandbox: SandboxProviderServer) -> None:
    assert_problem(call(sandbox, "GET", "/nowhere"), 404, "not_found")
    reply = call(sandbox, "GET", f"/attestations/{QF}")
    assert_problem(reply, 405, "method_not_allowed")
    assert reply.headers["allow"] == "POST"


def test_it_refuses_an_oversized_request_body(sandbox: SandboxProviderServer) -> None:
    reply = call(sandbox, "POST", f"/attestations/{QF}", b"[" + b"0," * 40_000 + b"0]")

    assert_problem(reply, 413, "payload_too_large")


def test_it_keeps_the_connection_alive_between_requests(sandbox: SandboxProviderServer, alice: Person) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", sandbox.port, timeout=5)
    try:
        replies = [call(sandbox, "GET", "/healthz", connection=connection) for _ in range(3)]
        local_port = connection.sock.getsockname()[1]
        replies.append(
            call(
                sandbox,
                "POST",
                f"/attestations/{QF}",
                request_body(alice, ["quotient_familial"]),
                connection=connection,
            )
        )
        replies.append(call(sandbox, "GET", "/nowhere", connection=connection))
        assert connection.sock.getsockname()[1] == local_port
    finally:
        connection.close()

    assert [reply.status for reply in replies] == [200, 200, 200, 200, 404]


def test_it_echoes_the_correlation_id(sandbox: SandboxProviderServer) -> None:
    reply = call(sandbox, "GET", "/healthz", headers={"X-Correlation-Id": "corr-123"})

    assert reply.headers["x-correlation-id"] == "corr-123"


def test_it_renders_protocol_errors_as_problems(sandbox: SandboxProviderServer) -> None:
    with socket.create_connection(("127.0.0.1", sandbox.port), timeout=5) as raw:
        raw.sendall(b"BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        # Headers and body may arrive in separate segments: read until the body is complete.
        answer = ""
        while "}" not in answer:
            chunk = raw.recv(65536).decode()
            if not chunk:
                break
            answer += chunk

    assert answer.startswith("HTTP/1.1 501")
    assert "application/problem+json" in answer
    assert '"code":"not_implemented"' in answer


# Faults


def test_it_reports_changes_and_resets_the_fault(sandbox: SandboxProviderServer) -> None:
    assert call(sandbox, "GET", "/_sandbox/faults").json() == {"mode": "none", "slug": None, "latency_ms": 1000}

    set_fault(sandbox, mode="latency", slug=QF, latency_ms=50)
    assert call(sandbox, "GET", "/_sandbox/faults").json() == {"mode": "latency", "slug": QF, "latency_ms": 50}

    assert call(sandbox, "DELETE", "/_sandbox/faults").json()["mode"] == "none"
    assert call(sandbox, "GET", "/_sandbox/faults").json()["mode"] == "none"


@pytest.mark.parametrize(
    ("fault", "member"),
    [
        ({"mode": "explode"}, "mode"),
        ({"mode": "error", "slug": "x.y"}, "slug"),
        ({"mode": "latency", "latency_ms": -1}, "latency_ms"),
    ],
)
def test_it_refuses_an_invalid_fault(sandbox: SandboxProviderServer, fault: dict[str, Any], member: str) -> None:
    problem = assert_problem(call(sandbox, "PUT", "/_sandbox/faults", fault), 400, "validation_error")

    assert list(problem["errors"]) == [member]


def test_it_delays_answers_under_the_latency_fault(sandbox: SandboxProviderServer, alice: Person) -> None:
    set_fault(sandbox, mode="latency", latency_ms=500)
    body = request_body(alice, ["quotient_familial"])

    # Nothing comes back within a read timeout shorter than the injected delay; the answer itself
    # is intact for a client that waits.
    with pytest.raises(TimeoutError):
        call(sandbox, "POST", f"/attestations/{QF}", body, timeout=0.1)
    reply = call(sandbox, "POST", f"/attestations/{QF}", body)

    assert reply.status == 200
    assert list(reply.json()["fields"]) == ["quotient_familial"]


def test_it_leaks_internals_under_the_error_fault(sandbox: SandboxProviderServer, alice: Person) -> None:
    set_fault(sandbox, mode="error")

    problem = assert_problem(ask(sandbox, alice, QF, ["quotient_familial"]), 500, "internal_error")

    assert problem["detail"] == INTERNAL_ERROR_DETAIL


def test_it_limits_a_fault_to_one_attestation_type(sandbox: SandboxProviderServer, alice: Person) -> None:
    set_fault(sandbox, mode="error", slug=AVIS)

    assert ask(sandbox, alice, AVIS, ["nombre_parts"]).status == 500
    assert ask(sandbox, alice, QF, ["quotient_familial"]).status == 200


def test_it_hangs_under_the_timeout_fault_while_serving_others(sandbox: SandboxProviderServer, alice: Person) -> None:
    set_fault(sandbox, mode="timeout", slug=QF)

    with pytest.raises(TimeoutError):
        call(sandbox, "POST", f"/attestations/{QF}", request_body(alice, ["quotient_familial"]), timeout=0.5)

    # The hanging request still holds its thread; others are served meanwhile.
    assert call(sandbox, "GET", "/healthz", timeout=2).status == 200
    assert ask(sandbox, alice, AVIS, ["nombre_parts"]).status == 200


def test_it_answers_garbage_under_the_garbage_fault(sandbox: SandboxProviderServer, alice: Person) -> None:
    set_fault(sandbox, mode="garbage")

    reply = ask(sandbox, alice, QF, ["quotient_familial"])

    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        reply.json()


def test_it_answers_megabytes_under_the_oversized_fault(sandbox: SandboxProviderServer, alice: Person) -> None:
    set_fault(sandbox, mode="oversized")

    reply = ask(sandbox, alice, QF, ["quotient_familial"])

    assert reply.status == 200
    assert len(reply.body) > 4 * 1024 * 1024
    assert int(reply.headers["content-length"]) == len(reply.body)
    assert "quotient_familial" in reply.json()["fields"]


def test_it_adds_unrequested_fields_under_the_extra_fields_fault(sandbox: SandboxProviderServer, alice: Person) -> None:
    set_fault(sandbox, mode="extra_fields")

    fields = ask(sandbox, alice, QF, ["quotient_familial"]).json()["fields"]

    assert set(fields) == {"quotient_familial", "fournisseur", *UNDECLARED_FIELDS}


def test_it_breaks_the_schema_under_the_wrong_types_fault(sandbox: SandboxProviderServer, alice: Person) -> None:
    set_fault(sandbox, mode="wrong_types")
    requested = ["quotient_familial", "nombre_enfants"]

    fields = ask(sandbox, alice, QF, requested).json()["fields"]

    assert isinstance(fields["quotient_familial"], str)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(fields, attestation_type(QF).json_schema(requested))


# Logs, startup, contract


def test_it_logs_no_personal_data(
    sandbox: SandboxProviderServer, alice: Person, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG, logger="sandbox")
    set_fault(sandbox, mode="error", slug=AVIS)

    ask(sandbox, alice, QF, ["quotient_familial", "enfants"])
    ask(sandbox, alice, AVIS, ["revenu_fiscal_reference"])
    ask(sandbox, alice, QF, ["quotient_familial"], subject={**alice.pivot_identity(), "sexe": "M"})
    call(sandbox, "POST", f"/attestations/{alice.nom_naissance}", request_body(alice, ["x"]))

    logged = caplog.text + capfd.readouterr().err
    assert f"POST /attestations/{QF} 200" in logged
    assert f"POST /attestations/{QF} 404" in logged
    assert f"POST /attestations/{AVIS} 500" in logged
    record = sandbox.population.record(alice, QF)
    assert record is not None
    secrets = [
        alice.nom_naissance,
        *alice.prenoms,
        alice.date_naissance.isoformat(),
        alice.code_cog_lieu_naissance,
        str(record["quotient_familial"]),
        record["enfants"][0]["prenoms"],
        INTERNAL_ERROR_DETAIL,
    ]
    assert [secret for secret in secrets if secret in logged] == []


def test_it_reads_the_token_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SANDBOX_PROVIDER_TOKEN", "from-env")
    server = make_server("127.0.0.1", 0, population_size=100)
    try:
        assert server.token == "from-env"
        assert server.port != 0
    finally:
        server.server_close()


def test_it_documents_every_implemented_path_and_status_in_the_openapi_contract() -> None:
    document = yaml.safe_load((REPO_ROOT / "docs" / "provider-api.yaml").read_text(encoding="utf-8"))

    assert document["openapi"].startswith("3.1")
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": document["components"]["securitySchemes"]["bearer"]["description"],
    }
    paths = document["paths"]
    implemented = {
        ("/attestations/{slug}", "post"): {"200", "400", "401", "404", "405", "411", "413", "500"},
        ("/healthz", "get"): {"200"},
        ("/_sandbox/faults", "get"): {"200", "401"},
        ("/_sandbox/faults", "put"): {"200", "400", "401"},
        ("/_sandbox/faults", "delete"): {"200", "401"},
    }
    for (path, method), statuses in implemented.items():
        assert statuses <= set(paths[path][method]["responses"]), (path, method)
    problem_codes = document["components"]["schemas"]["Problem"]["properties"]["code"]["enum"]
    assert {"subject_not_found", "validation_error", "authentication_required", "unknown_attestation_type"} <= set(
        problem_codes
    )
    fault_modes = document["components"]["schemas"]["FaultMode"]["enum"]
    assert fault_modes == list(FAULT_MODES)
