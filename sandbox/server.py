"""The sandbox provider: one HTTP service standing in for the seven demo administrations.

It implements the provider contract of `docs/provider-api.yaml` (what a real administration
exposes to the gateway) over a synthetic `Population` and its `Register` of companies, with the
Python standard library only so that it runs anywhere, and lets tests inject the failures a real
provider has (latency, errors, hangs, garbage, oversized or off-schema answers) at start or at
run time.

Personal data never reaches the log: a log line is the method, the route (with the attestation
slug, never a raw path), the status and the duration.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import FrameType
from typing import Any, ClassVar
from urllib.parse import urlsplit

from providers.demodata.catalogue import ATTESTATION_TYPES_BY_SLUG, AttestationTypeSpec
from providers.demodata.companies import Register
from providers.demodata.population import Population
from providers.siret import siret_is_valid

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8100
DEFAULT_TOKEN = "sandbox-token"
TOKEN_ENV_VAR = "SANDBOX_PROVIDER_TOKEN"
FAULT_MODES: tuple[str, ...] = (
    "none",
    "latency",
    "error",
    "timeout",
    "garbage",
    "oversized",
    "extra_fields",
    "wrong_types",
)
DEFAULT_LATENCY_MS = 1000
MAX_LATENCY_MS = 120_000
MAX_BODY_BYTES = 64 * 1024
OVERSIZED_PADDING_BYTES = 5 * 1024 * 1024
PROBLEM_CONTENT_TYPE = "application/problem+json"
# Same documentation anchor scheme as core/errors.py (which this module may not import).
PROBLEM_TYPE_BASE = "https://github.com/dites-le-nous-une-fois/gateway/blob/main/docs/errors.md#"

# What the `error` fault answers: the kind of internals a real back end leaks. The gateway must
# never pass any of it on to a consumer.
INTERNAL_ERROR_DETAIL = (
    "ORA-01017: invalid username/password; logon denied "
    "(jdbc:oracle:thin:@db-prod-03.sandbox-provider.internal:1521/ATTPRD) "
    "at fr.gouv.sandbox.attestations.dao.RecordDao.find(RecordDao.java:212)"
)
GARBAGE_BODY = b"<html><body><h1>502 Bad Gateway</h1><p>upstream mainframe unreachable</p></body></html>\n"
# Fields the `extra_fields` fault adds that no attestation type defines.
UNDECLARED_FIELDS: Mapping[str, Any] = {"score_interne": 0.42, "commentaire_agent": "dossier suivi par l'agence 069"}

_COG_RE = re.compile(r"^(?:\d{5}|2[AB]\d{3})$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CORRELATION_ID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_ATTESTATIONS_PREFIX = "/attestations/"


@dataclass(frozen=True, slots=True)
class FaultConfig:
    mode: str = "none"
    slug: str | None = None
    latency_ms: int = DEFAULT_LATENCY_MS

    def applies_to(self, slug: str) -> bool:
        return self.mode != "none" and (self.slug is None or self.slug == slug)

    def as_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "slug": self.slug, "latency_ms": self.latency_ms}


def fault_config(mode: str = "none", slug: str | None = None, latency_ms: int | None = None) -> FaultConfig:
    """A validated fault configuration; raises ValueError naming the offending setting."""
    if mode not in FAULT_MODES:
        raise ValueError(f"mode: must be one of {', '.join(FAULT_MODES)}")
    if slug is not None and slug not in ATTESTATION_TYPES_BY_SLUG:
        raise ValueError("slug: unknown attestation type")
    latency = DEFAULT_LATENCY_MS if latency_ms is None else latency_ms
    if isinstance(latency, bool) or not isinstance(latency, int) or not 0 <= latency <= MAX_LATENCY_MS:
        raise ValueError(f"latency_ms: must be an integer between 0 and {MAX_LATENCY_MS}")
    return FaultConfig(mode, slug, latency)


class FaultSwitch:
    """The current fault, shared by every request thread."""

    def __init__(self, initial: FaultConfig) -> None:
        self._lock = threading.Lock()
        self._current = initial

    def current(self) -> FaultConfig:
        with self._lock:
            return self._current

    def set(self, config: FaultConfig) -> FaultConfig:
        with self._lock:
            self._current = config
            return config


class Problem(Exception):
    """An RFC 9457 problem the handler turns into an `application/problem+json` response."""

    def __init__(
        self,
        status: HTTPStatus,
        code: str,
        detail: str,
        *,
        errors: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = dict(errors or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        problem: dict[str, Any] = {
            "type": PROBLEM_TYPE_BASE + self.code,
            "title": self.status.phrase,
            "status": int(self.status),
            "detail": self.detail,
            "code": self.code,
        }
        if self.errors:
            problem["errors"] = self.errors
        return problem


@dataclass(frozen=True, slots=True)
class AttestationRequest:
    # A company subject (types whose subject is a company) names its SIREN and SIRET; a person
    # subject its pivot identity.
    siren: str
    siret: str
    nom_naissance: str
    prenoms: tuple[str, ...]
    date_naissance: date
    sexe: str
    code_cog_lieu_naissance: str
    fields: tuple[str, ...]
    purpose: str
    consumer_siret: str
    exchange_id: uuid.UUID


def parse_attestation_request(raw: bytes, spec: AttestationTypeSpec) -> AttestationRequest:
    """Validate a request body; messages name the offending member, never echo its value."""
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise Problem(HTTPStatus.BAD_REQUEST, "validation_error", "The body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise Problem(HTTPStatus.BAD_REQUEST, "validation_error", "The body must be a JSON object.")
    errors: dict[str, str] = {}

    subject = data.get("subject")
    # Untrusted JSON values stay `Any` until checked; only checked values reach the request.
    siren: Any = ""
    siret: Any = ""
    nom: Any = ""
    prenoms: tuple[str, ...] = ()
    born = date.min
    sexe: Any = ""
    cog: Any = ""
    if not isinstance(subject, dict):
        errors["subject"] = "Required object."
    elif spec.subject_kind == "company":
        siret = subject.get("siret")
        if not isinstance(siret, str) or not siret_is_valid(siret):
            errors["subject.siret"] = "Required valid 14-digit SIRET."
        siren = subject.get("siren")
        if not isinstance(siren, str) or not isinstance(siret, str) or siren != siret[:9]:
            errors["subject.siren"] = "Required: the 9 first digits of the SIRET."
    else:
        nom = subject.get("nom_naissance")
        if not isinstance(nom, str) or not nom.strip() or len(nom) > 100:
            errors["subject.nom_naissance"] = "Required non-empty string of at most 100 characters."
        raw_prenoms = subject.get("prenoms")
        if (
            not isinstance(raw_prenoms, list)
            or not 1 <= len(raw_prenoms) <= 10
            or not all(isinstance(p, str) and p.strip() and len(p) <= 100 for p in raw_prenoms)
        ):
            errors["subject.prenoms"] = "Required list of 1 to 10 non-empty given names."
        else:
            prenoms = tuple(raw_prenoms)
        raw_date = subject.get("date_naissance")
        try:
            if not isinstance(raw_date, str) or not _DATE_RE.match(raw_date):
                raise ValueError
            born = date.fromisoformat(raw_date)
        except ValueError:
            errors["subject.date_naissance"] = "Required date in YYYY-MM-DD form."
        sexe = subject.get("sexe")
        if sexe not in ("F", "M"):
            errors["subject.sexe"] = "Required, one of F or M."
        cog = subject.get("code_cog_lieu_naissance")
        if not isinstance(cog, str) or not _COG_RE.match(cog.upper()):
            errors["subject.code_cog_lieu_naissance"] = "Required INSEE COG code (5 characters)."

    fields = data.get("fields")
    if not isinstance(fields, list) or not fields or not all(isinstance(name, str) for name in fields):
        errors["fields"] = "Required non-empty list of field names."
        fields = []
    else:
        unknown = sorted({name for name in fields if not spec.has_field(name)})
        if unknown:
            errors["fields"] = f"Unknown field(s) for {spec.slug}: {', '.join(unknown)}."

    purpose: Any = data.get("purpose")
    if not isinstance(purpose, str) or purpose not in spec.purposes:
        errors["purpose"] = f"Required, one of the purposes accepted for {spec.slug}: {', '.join(spec.purposes)}."

    consumer_siret: Any = data.get("consumer_siret")
    if not isinstance(consumer_siret, str) or not siret_is_valid(consumer_siret):
        errors["consumer_siret"] = "Required valid 14-digit SIRET."

    exchange_id: uuid.UUID | None = None
    try:
        exchange_id = uuid.UUID(data.get("exchange_id"))
    except (TypeError, ValueError, AttributeError):
        errors["exchange_id"] = "Required UUID."

    if errors or exchange_id is None:
        raise Problem(HTTPStatus.BAD_REQUEST, "validation_error", "The request is not valid.", errors=errors)
    return AttestationRequest(
        siren=siren,
        siret=siret,
        nom_naissance=nom,
        prenoms=prenoms,
        date_naissance=born,
        sexe=sexe,
        code_cog_lieu_naissance=cog.upper(),
        # Order-preserving de-duplication: asking twice for a field is not an error.
        fields=tuple(dict.fromkeys(fields)),
        purpose=purpose,
        consumer_siret=consumer_siret,
        exchange_id=exchange_id,
    )


def _mistyped(value: Any) -> Any:
    """A value of another JSON type than `value`, for the `wrong_types` fault."""
    if isinstance(value, bool):
        return "oui" if value else "non"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return 12345
    if isinstance(value, list):
        return {"items": value}
    if isinstance(value, dict):
        return [value]
    return False


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class SandboxProviderServer(ThreadingHTTPServer):
    daemon_threads = True
    # Keep-alive connections and `timeout` faults park threads for long; never wait for them.
    block_on_close = False
    request_queue_size = 256

    def __init__(
        self,
        address: tuple[str, int],
        *,
        population: Population,
        token: str,
        fault: FaultConfig,
        timeout_fault_seconds: float = 30.0,
    ) -> None:
        self.population = population
        self.register = Register(population)
        self.token = token
        self.faults = FaultSwitch(fault)
        self.timeout_fault_seconds = timeout_fault_seconds
        # Set on close so that sleeping fault handlers give up at once.
        self.stopping = threading.Event()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, SandboxRequestHandler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up mid-answer (a gateway giving up on an oversized body or a
        # timeout) is expected here; anything else is logged by type only, never with data.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return
        logger.warning("sandbox: unhandled %s while serving a request", type(exc).__name__)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    @property
    def url(self) -> str:
        address = self.server_address[0]
        host = address.decode() if isinstance(address, bytes) else address
        return f"http://[{host}]:{self.port}" if ":" in host else f"http://{host}:{self.port}"

    def server_close(self) -> None:
        self.stopping.set()
        super().server_close()


class SandboxRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "SandboxProvider/1.0"
    sys_version = ""
    disable_nagle_algorithm = True
    # Idle keep-alive connections are dropped after this many seconds.
    timeout = 60
    server: SandboxProviderServer

    _route_label: str
    _status: int
    ROUTES: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "/healthz": ("GET",),
        "/_sandbox/faults": ("GET", "PUT", "DELETE"),
        "/_sandbox/register/departures": ("PUT", "DELETE"),
    }

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        started = time.perf_counter()
        self._route_label = "<unmatched>"
        self._status = 0
        try:
            body = self._read_body()
            self._route(urlsplit(self.path).path, body)
        except Problem as problem:
            self._send_problem(problem)
        except Exception as exc:  # last line of defence: log the type only, the message may hold data
            logger.error("unhandled %s while serving %s", type(exc).__name__, self._route_label)
            self._send_problem(
                Problem(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", "The sandbox failed unexpectedly.")
            )
        finally:
            elapsed_ms = (time.perf_counter() - started) * 1000
            status = str(self._status) if self._status else "-"
            logger.info("%s %s %s %.1fms", self.command, self._route_label, status, elapsed_ms)

    def _route(self, path: str, body: bytes) -> None:
        method = self.command
        if path.startswith(_ATTESTATIONS_PREFIX):
            slug = path[len(_ATTESTATIONS_PREFIX) :]
            self._route_label = (
                f"{_ATTESTATIONS_PREFIX}{slug}" if slug in ATTESTATION_TYPES_BY_SLUG else "/attestations/<unknown>"
            )
            self._require_method(("POST",))
            self._authenticate()
            self._attestation(slug, body)
            return
        allowed = self.ROUTES.get(path)
        if allowed is None:
            raise Problem(HTTPStatus.NOT_FOUND, "not_found", "No such resource.")
        self._route_label = path
        self._require_method(allowed)
        if path == "/healthz":
            self._send_json(HTTPStatus.OK, {"status": "ok"})
            return
        self._authenticate()
        if path == "/_sandbox/register/departures":
            self._departures(method, body)
        elif method == "GET":
            self._send_json(HTTPStatus.OK, self.server.faults.current().as_dict())
        elif method == "DELETE":
            self._send_json(HTTPStatus.OK, self.server.faults.set(FaultConfig()).as_dict())
        else:
            self._send_json(HTTPStatus.OK, self.server.faults.set(self._parse_fault(body)).as_dict())

    def _require_method(self, allowed: tuple[str, ...]) -> None:
        if self.command not in allowed:
            raise Problem(
                HTTPStatus.METHOD_NOT_ALLOWED,
                "method_not_allowed",
                f"Allowed: {', '.join(allowed)}.",
                headers={"Allow": ", ".join(allowed)},
            )

    def _authenticate(self) -> None:
        scheme, _, credentials = self.headers.get("Authorization", "").partition(" ")
        expected = self.server.token.encode()
        if scheme.lower() != "bearer" or not hmac.compare_digest(credentials.strip().encode(), expected):
            raise Problem(
                HTTPStatus.UNAUTHORIZED,
                "authentication_required",
                "A valid bearer token is required.",
                headers={"WWW-Authenticate": 'Bearer realm="sandbox-provider"'},
            )

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            # We cannot know where the body ends without decoding it: drop the connection.
            self.close_connection = True
            raise Problem(HTTPStatus.LENGTH_REQUIRED, "validation_error", "Send the body with a Content-Length.")
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            return b""
        try:
            length = int(raw_length)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise Problem(HTTPStatus.BAD_REQUEST, "validation_error", "Invalid Content-Length.") from None
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise Problem(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                "payload_too_large",
                f"The body must not exceed {MAX_BODY_BYTES} bytes.",
            )
        return self.rfile.read(length)

    def _parse_fault(self, body: bytes) -> FaultConfig:
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            data = None
        if not isinstance(data, dict):
            raise Problem(HTTPStatus.BAD_REQUEST, "validation_error", "The body must be a JSON object.")
        try:
            return fault_config(data.get("mode", ""), data.get("slug"), data.get("latency_ms"))
        except ValueError as exc:
            member, _, message = str(exc).partition(": ")
            raise Problem(
                HTTPStatus.BAD_REQUEST, "validation_error", "Invalid fault.", errors={member: message}
            ) from None

    def _departures(self, method: str, body: bytes) -> None:
        """An officer leaves a company (PUT {"siren", "person_index"}): the register's answer stops
        listing them; DELETE reinstates everyone."""
        if method == "DELETE":
            self.server.register.reinstate()
            self._send_json(HTTPStatus.OK, {"departures": "cleared"})
            return
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError):
            data = None
        siren = data.get("siren") if isinstance(data, dict) else None
        index = data.get("person_index") if isinstance(data, dict) else None
        if not isinstance(siren, str) or self.server.register.find(siren) is None or not isinstance(index, int):
            raise Problem(HTTPStatus.BAD_REQUEST, "validation_error", "Name a known siren and a person_index.")
        self.server.register.depart(siren, index)
        self._send_json(HTTPStatus.OK, {"siren": siren, "person_index": index})

    def _attestation(self, slug: str, body: bytes) -> None:
        spec = ATTESTATION_TYPES_BY_SLUG.get(slug)
        if spec is None:
            raise Problem(HTTPStatus.NOT_FOUND, "unknown_attestation_type", "No such attestation type.")
        fault = self.server.faults.current()
        mode = fault.mode if fault.applies_to(slug) else "none"
        if mode == "latency":
            self.server.stopping.wait(fault.latency_ms / 1000)
        elif mode == "error":
            raise Problem(HTTPStatus.INTERNAL_SERVER_ERROR, "internal_error", INTERNAL_ERROR_DETAIL)
        elif mode == "timeout":
            self.server.stopping.wait(self.server.timeout_fault_seconds)
            self.close_connection = True
            return
        elif mode == "garbage":
            self._send_bytes(HTTPStatus.OK, GARBAGE_BODY, "application/json")
            return

        request = parse_attestation_request(body, spec)
        population = self.server.population
        record: dict[str, Any] | None
        if spec.subject_kind == "company":
            company = self.server.register.find(request.siret)
            record = self.server.register.record(company, slug) if company is not None else None
            key = company.siren if company is not None else ""
        else:
            person = population.find(
                request.nom_naissance,
                request.prenoms,
                request.date_naissance,
                request.sexe,
                request.code_cog_lieu_naissance,
            )
            record = population.record(person, slug) if person is not None else None
            key = str(person.index) if person is not None else ""
        if record is None:
            raise Problem(
                HTTPStatus.NOT_FOUND,
                "subject_not_found",
                "No record of this attestation type matches the subject.",
            )
        fields = {name: record[name] for name in request.fields}
        if mode == "extra_fields":
            not_requested = [name for name in spec.field_names if name not in fields]
            if not_requested:
                fields[not_requested[0]] = record[not_requested[0]]
            fields.update(UNDECLARED_FIELDS)
        elif mode == "wrong_types":
            first = request.fields[0]
            fields[first] = _mistyped(fields[first])
        digest = hashlib.sha256(f"{population.seed}|{slug}|{key}|{request.exchange_id}".encode())
        payload: dict[str, Any] = {
            "fields": fields,
            "issued_at": _utc_now(),
            "provider_reference": f"{spec.holder.upper()}-{digest.hexdigest()[:20].upper()}",
        }
        if mode == "oversized":
            payload["padding"] = "x" * OVERSIZED_PADDING_BYTES
        self._send_json(HTTPStatus.OK, payload)

    def _send_json(self, status: HTTPStatus, payload: Mapping[str, Any]) -> None:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        self._send_bytes(status, body, "application/json")

    def _send_problem(self, problem: Problem) -> None:
        body = json.dumps(problem.body(), ensure_ascii=False, separators=(",", ":")).encode()
        self._send_bytes(problem.status, body, PROBLEM_CONTENT_TYPE, problem.headers)

    def _send_bytes(
        self,
        status: HTTPStatus,
        body: bytes,
        content_type: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        # Attestations are personal data: no shared or private cache may keep them.
        self.send_header("Cache-Control", "no-store")
        # http.server calls send_error before headers exist when the request line is malformed.
        request_headers = getattr(self, "headers", None)
        correlation_id = request_headers.get("X-Correlation-Id", "") if request_headers else ""
        if _CORRELATION_ID_RE.match(correlation_id):
            self.send_header("X-Correlation-Id", correlation_id)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if getattr(self, "command", None) != "HEAD":
            self.wfile.write(body)
        self._status = int(status)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Protocol-level errors raised by http.server itself, rendered as problem+json too."""
        self.close_connection = True
        try:
            status = HTTPStatus(code)
        except ValueError:
            status = HTTPStatus.BAD_REQUEST
        codes = {HTTPStatus.NOT_IMPLEMENTED: "not_implemented"}
        problem = Problem(status, codes.get(status, "bad_request"), status.description or status.phrase)
        logger.info("%s %s %s", getattr(self, "command", None) or "-", "<unparsed>", int(status))
        self._send_problem(problem)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        # _dispatch logs one line per request, with the route instead of the raw path.
        return

    def log_error(self, format: str, *args: Any) -> None:
        # The arguments may quote the raw request line; log only that something went wrong.
        logger.warning("protocol error on a sandbox connection")

    def log_message(self, format: str, *args: Any) -> None:
        return


def make_server(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    population_size: int = 1000,
    seed: int = 2026,
    token: str | None = None,
    fault: str = "none",
    *,
    fault_slug: str | None = None,
    latency_ms: int | None = None,
    population: Population | None = None,
    timeout_fault_seconds: float = 30.0,
) -> SandboxProviderServer:
    """A bound, not yet serving, sandbox provider. Port 0 binds an ephemeral port (see `.port`).

    The token defaults to $SANDBOX_PROVIDER_TOKEN, then to "sandbox-token".
    """
    resolved_token = token if token is not None else os.environ.get(TOKEN_ENV_VAR) or DEFAULT_TOKEN
    if not resolved_token:
        raise ValueError("the bearer token must not be empty")
    config = fault_config(fault, fault_slug, latency_ms)
    if population is None:
        population = Population(size=population_size, seed=seed)
    return SandboxProviderServer(
        (host, port),
        population=population,
        token=resolved_token,
        fault=config,
        timeout_fault_seconds=timeout_fault_seconds,
    )


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    population_size: int = 1000,
    seed: int = 2026,
    token: str | None = None,
    fault: str = "none",
    *,
    fault_slug: str | None = None,
    latency_ms: int | None = None,
) -> None:
    """Run the sandbox provider until SIGTERM or Ctrl-C."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    server = make_server(host, port, population_size, seed, token, fault, fault_slug=fault_slug, latency_ms=latency_ms)
    print(
        f"Sandbox provider listening on {server.url} ({len(server.population)} people, seed {seed})",
        flush=True,
    )
    previous = None
    # signal.signal only works in the main thread; elsewhere the caller owns shutdown.
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
        print("Sandbox provider stopped", flush=True)
