"""Exchange benchmark: gunicorn on PostgreSQL and Redis, driven by wrk.

Measures, at 1 and 32 connections, the throughput and latency of
  - lean-ceiling:   the yardstick, ../shared/bench/lean_ceiling (the least work one exchange must
                    do, in a bare Django view served the same way), started in the same run;
  - exchange-demo:  GET /api/v1/attestations/{slug} with the in-process demo adapter;
  - exchange-http:  the same through the sandbox provider over HTTP;
  - sandbox-direct: the sandbox provider called directly;
  - exchange-demo-pgbouncer: exchange-demo through PgBouncer in transaction mode (prepared
                    statements off), when pgbouncer is installed;
and prints the ratios, then writes everything as JSON to bench/results/.

    make bench                      # defaults: 2,000 citizens, 10 s per run
    .venv/bin/python bench/run.py --citizens 5000 --duration 20

Needs PostgreSQL and Redis on 127.0.0.1 (bin/ensure-services) and Debian's wrk. It creates and
drops its own database, `gateway_bench` (BENCH_DATABASE; also BENCH_REDIS_URL and BENCH_LEAN_DATABASE).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psycopg
from joserfc import jwt
from joserfc.jwk import ECKey

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.scale.deployment import PgBouncer, Server  # noqa: E402 - after the path above

PY = sys.executable
SANDBOX_TOKEN = "bench-sandbox-token"  # noqa: S105
# Its own database, Redis database and lean-ceiling database; override them when several runs share
# one PostgreSQL and one Redis (the run drops and recreates its database).
DB_NAME = os.environ.get("BENCH_DATABASE", "gateway_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
LEAN_DB = os.environ.get("BENCH_LEAN_DATABASE", "gw_lean_ceiling")

WRK_SCRIPT = r"""
local lines = {}
for line in io.lines(os.getenv("BENCH_INPUT")) do lines[#lines + 1] = line end
local path = os.getenv("BENCH_PATH")
local method = os.getenv("BENCH_METHOD")
local auth = os.getenv("BENCH_AUTH")
-- DPoP: one fresh proof per request, written beforehand by the client's side (bench/run.py).
local proofs = {}
local proofs_path = os.getenv("BENCH_PROOFS")
if proofs_path and proofs_path ~= "" then
  for line in io.lines(proofs_path) do proofs[#proofs + 1] = line end
end
local counter = 0
request = function()
  counter = counter + 1
  local item = lines[(counter % #lines) + 1]
  local headers = {["Authorization"] = auth}
  if #proofs > 0 then headers["DPoP"] = proofs[(counter % #proofs) + 1] end
  if method == "POST" then
    headers["Content-Type"] = "application/json"
    return wrk.format("POST", path, headers, item)
  end
  return wrk.format("GET", path .. item, headers)
end
local errors = 0
response = function(status, headers, body)
  if status ~= 200 then errors = errors + 1 end
end
done = function(summary, latency, requests)
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "non_2xx": %d, "socket_errors": %d, ' ..
    '"p50_ms": %.3f, "p90_ms": %.3f, "p99_ms": %.3f, "max_ms": %.3f}\n',
    summary.requests, summary.duration,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1):  # noqa: S310 - loopback only
                return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"{url} did not come up in {timeout:.0f} s")


def bench_env(args: argparse.Namespace) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "bench.settings",
            "DEBUG": "0",
            "SECRET_KEY": "bench-only-secret-key-0123456789abcdef0123456789",
            "AUDIT_HMAC_KEY": "bench-only-audit-key",
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{DB_NAME}",
            "REDIS_URL": REDIS_URL,
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "STATIC_MANIFEST": "0",
            "GATEWAY_KEYS_DIR": str(ROOT / "var" / "bench-keys"),
            "GATEWAY_KEYS_GENERATE": "1",
            "GATEWAY_DEMO": "0",
            "OUTBOUND_ALLOWED_HOSTS": "127.0.0.1",
            "SANDBOX_PROVIDER_TOKEN": SANDBOX_TOKEN,
            "SANDBOX_POPULATION_SIZE": str(args.population),
            "LOG_LEVEL": "WARNING",
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def recreate_database() -> None:
    with psycopg.connect("postgresql://postgres@127.0.0.1:5432/postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB_NAME}")


@contextlib.contextmanager
def process(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield proc
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


def wrk(
    url: str,
    path: str,
    input_file: Path,
    *,
    method: str,
    auth: str,
    connections: int,
    duration: int,
    proofs: Path | None = None,
) -> dict:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    env = dict(os.environ, BENCH_INPUT=str(input_file), BENCH_PATH=path, BENCH_METHOD=method, BENCH_AUTH=auth)
    env["BENCH_PROOFS"] = str(proofs) if proofs else ""
    # One wrk thread: on two cores the load generator must leave the server the rest.
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency", "-s", script.name, url]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("BENCH_JSON "))
    result = json.loads(line.removeprefix("BENCH_JSON "))
    result["rps"] = round(result["requests"] / (result["duration_us"] / 1e6), 1)
    result["connections"] = connections
    return result


def rss_mb(pid: int) -> list[float]:
    """Resident memory of gunicorn's worker processes (children of the master)."""
    sizes = []
    for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
        for line in Path(f"/proc/{child}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                sizes.append(round(int(line.split()[1]) / 1024, 1))
    return sizes


def fetch_token(base: str, client_id: str, secret: str, slug: str) -> str:
    body = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "scope": f"attestations:{slug} consents:read"}
    ).encode()
    request = urllib.request.Request(f"{base}/oauth/token/", data=body, method="POST")  # noqa: S310
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    basic = urllib.parse.quote(client_id) + ":" + urllib.parse.quote(secret)
    request.add_header("Authorization", "Basic " + base64.b64encode(basic.encode()).decode())
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
        return str(json.loads(response.read())["access_token"])


def dpop_proof(key: ECKey, method: str, url: str, *, nonce: str | None, token: str | None = None) -> str:
    claims: dict[str, object] = {"jti": secrets.token_urlsafe(12), "htm": method, "htu": url, "iat": int(time.time())}
    if nonce:
        claims["nonce"] = nonce
    if token:
        claims["ath"] = base64.urlsafe_b64encode(hashlib.sha256(token.encode()).digest()).rstrip(b"=").decode()
    header = {"typ": "dpop+jwt", "alg": "ES256", "jwk": key.as_dict(private=False)}
    return jwt.encode(header, claims, key, algorithms=["ES256"])


def _post_token(base: str, client_id: str, secret: str, slug: str, proof: str) -> tuple[int, dict, str]:
    body = urllib.parse.urlencode(
        {"grant_type": "client_credentials", "scope": f"attestations:{slug} consents:read"}
    ).encode()
    request = urllib.request.Request(f"{base}/oauth/token/", data=body, method="POST")  # noqa: S310
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    basic = urllib.parse.quote(client_id) + ":" + urllib.parse.quote(secret)
    request.add_header("Authorization", "Basic " + base64.b64encode(basic.encode()).decode())
    request.add_header("DPoP", proof)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback only
            return response.status, json.loads(response.read()), response.headers.get("DPoP-Nonce", "")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read()), error.headers.get("DPoP-Nonce", "")


def fetch_dpop_token(base: str, client_id: str, secret: str, slug: str, key: ECKey) -> tuple[str, str]:
    """A DPoP-bound token (RFC 9449), after the one round trip that learns the server's nonce; and
    that nonce."""
    url = f"{base}/oauth/token/"
    status, body, nonce = _post_token(base, client_id, secret, slug, dpop_proof(key, "POST", url, nonce=None))
    if status == 400 and body.get("error") == "use_dpop_nonce":
        status, body, _ = _post_token(base, client_id, secret, slug, dpop_proof(key, "POST", url, nonce=nonce))
    if status != 200 or body.get("token_type") != "DPoP":
        raise RuntimeError(f"No DPoP token: {status} {body}")
    return str(body["access_token"]), nonce


def dpop_proofs(workdir: Path, key: ECKey, url: str, token: str, nonce: str, count: int) -> Path:
    """`count` proofs for GET `url` with `token`, one per line: each request spends one (its jti)."""
    path = workdir / "dpop-proofs.txt"
    path.write_text("".join(dpop_proof(key, "GET", url, nonce=nonce, token=token) + "\n" for _ in range(count)))
    return path


def soak(
    args: argparse.Namespace,
    env: dict[str, str],
    base: str,
    consents_file: Path,
    slug: str,
    seeded: dict,
    server_pid: int,
    runs: dict[str, dict[str, object]],
) -> dict[str, object]:
    """Exchanges until the target count, in 30-second rounds, recording worker memory each round."""
    subprocess.run([PY, "bench/seed.py", "adapter", "demo"], cwd=ROOT, env=env, check=True)
    # The closed-loop runs that exchanged (the open-loop and two-instance ones report no request count).
    done = sum(
        int(run["requests"]) - int(run["non_2xx"])
        for key, run in runs.items()
        if key.startswith("exchange-") and "requests" in run
    )
    rounds = []
    while done < args.soak_exchanges:
        # A fresh token each round: tokens live 10 minutes.
        token = fetch_token(base, seeded["client_id"], seeded["client_secret"], slug)
        run = wrk(
            base,
            f"/api/v1/attestations/{slug}",
            consents_file,
            method="GET",
            auth=f"Bearer {token}",
            connections=32,
            duration=30,
        )
        done += int(run["requests"]) - int(run["non_2xx"])
        rounds.append({"exchanges": done, "rps": run["rps"], "non_2xx": run["non_2xx"], "rss_mb": rss_mb(server_pid)})
        print(f"soak: {done} exchanges, {run['rps']} req/s, worker RSS {rounds[-1]['rss_mb']} MB", flush=True)
    return {"exchanges": done, "rounds": rounds, "final_rss_mb": rss_mb(server_pid)}


def parse_duration_ms(text: str) -> float:
    """wrk's latency figures: 812.00us, 1.50ms, 1.02s."""
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    raise ValueError(text)


def lean_ceiling(args: argparse.Namespace) -> dict[str, dict[str, object]]:
    """The yardstick's figures at 1 and 32 connections, measured now (its run.sh prints
    `lean c=N <req/s> req/s p50 <t> p99 <t>`)."""
    script = Path(args.lean_ceiling) / "run.sh"
    if not script.exists():
        raise SystemExit(f"No lean ceiling at {script}: pass --lean-ceiling DIR")
    env = dict(os.environ, LEAN_PORT=str(free_port()), LEAN_DB=LEAN_DB)
    out = subprocess.run(
        ["bash", str(script), PY, str(args.workers), str(args.threads), str(args.duration)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    figures: dict[str, dict[str, object]] = {}
    for line in out.splitlines():
        parts = line.split()
        if parts[:1] == ["lean"]:
            connections = int(parts[1].removeprefix("c="))
            figures[f"lean-ceiling@{connections}"] = {
                "rps": float(parts[2]),
                "p50_ms": parse_duration_ms(parts[5]),
                "p99_ms": parse_duration_ms(parts[7]),
                "connections": connections,
                "non_2xx": 0,
            }
    return figures


def open_loop(base: str, path: str, input_file: Path, auth: str, rate: float, duration: int) -> dict[str, object]:
    """bench/openloop.py at `rate` requests per second: latency counted from when each was due."""
    out = subprocess.run(
        [
            PY,
            "bench/openloop.py",
            base,
            "--rate",
            str(rate),
            "--duration",
            str(duration),
            "--path-file",
            str(input_file),
            "--prefix",
            path,
            "--header",
            f"Authorization: {auth}",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    result: dict[str, object] = json.loads(out.splitlines()[-1])
    result["rps"] = result["rate_achieved"]
    return result


def pgbouncer_phase(
    args: argparse.Namespace,
    env: dict[str, str],
    path: str,
    consents_file: Path,
    auth: str,
    workdir: Path,
    runs: dict[str, dict[str, object]],
    loads: dict[str, list[float]],
) -> None:
    """exchange-demo again, through PgBouncer in transaction mode (as many server connections as
    gunicorn has threads), by a second gunicorn started the same way."""
    bouncer = PgBouncer(Server("127.0.0.1", 5432, "postgres"), pool_size=args.workers * args.threads)
    try:
        port = free_port()
        pooled_env = dict(
            env,
            DATABASE_URL=bouncer.server.url(DB_NAME),
            DATABASE_PREPARED_STATEMENTS="0",
            DATABASE_SERVER_SIDE_CURSORS="0",
        )
        with process(gunicorn_command(args, port), pooled_env, workdir / "gunicorn-pgbouncer.log"):
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/healthz")
            loads["exchange-demo-pgbouncer"] = load_average()
            for connections in (1, 32):
                wrk(base, path, consents_file, method="GET", auth=auth, connections=connections, duration=2)
                run = wrk(
                    base, path, consents_file, method="GET", auth=auth, connections=connections, duration=args.duration
                )
                runs[f"exchange-demo-pgbouncer@{connections}"] = run
                report(f"exchange-demo-pgbouncer c={connections}", run)
    finally:
        bouncer.stop()


def succeeded_exchanges() -> int:
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}") as conn:
        row = conn.execute("SELECT count(*) FROM gateway_exchange WHERE status = 'succeeded'").fetchone()
    return int(row[0]) if row else 0


def two_instances_phase(
    args: argparse.Namespace,
    env: dict[str, str],
    path: str,
    consents_file: Path,
    auth: str,
    workdir: Path,
    runs: dict[str, dict[str, object]],
    loads: dict[str, list[float]],
) -> dict[str, int]:
    """exchange-demo on two gunicorn instances (each half the workers) on one database, driven at
    once by two wrk processes of 16 connections each; checks every 2xx left one exchange row."""
    ports = [free_port(), free_port()]
    half = argparse.Namespace(**{**vars(args), "workers": max(1, args.workers // 2)})
    with contextlib.ExitStack() as stack:
        for port in ports:
            stack.enter_context(process(gunicorn_command(half, port), env, workdir / f"gunicorn-{port}.log"))
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base in bases:
            wait_http(f"{base}/healthz")
            wrk(base, path, consents_file, method="GET", auth=auth, connections=4, duration=2)
        loads["exchange-demo-two-instances"] = load_average()
        before = succeeded_exchanges()
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(WRK_SCRIPT)
        wrk_env = dict(os.environ, BENCH_INPUT=str(consents_file), BENCH_PATH=path, BENCH_METHOD="GET", BENCH_AUTH=auth)
        drivers = [
            subprocess.Popen(
                ["wrk", "-t1", "-c16", f"-d{args.duration}s", "--latency", "-s", script.name, base],
                env=wrk_env,
                stdout=subprocess.PIPE,
                text=True,
            )
            for base in bases
        ]
        outputs = [driver.communicate()[0] for driver in drivers]
        after = succeeded_exchanges()
    marker = "BENCH_JSON "
    lines = [next(line for line in out.splitlines() if line.startswith(marker)) for out in outputs]
    parts = [json.loads(line[len(marker) :]) for line in lines]
    requests = sum(int(part["requests"]) for part in parts)
    non_2xx = sum(int(part["non_2xx"]) for part in parts)
    seconds = max(int(part["duration_us"]) for part in parts) / 1e6
    run = {
        "rps": round(requests / seconds, 1),
        "p50_ms": max(float(part["p50_ms"]) for part in parts),
        "p99_ms": max(float(part["p99_ms"]) for part in parts),
        "non_2xx": non_2xx,
        "connections": 32,
    }
    runs["exchange-demo-two-instances@32"] = run
    report("exchange-demo 2 instances c=2x16", run)
    # wrk stops counting at its deadline while a few requests are still in flight: rows may
    # exceed the 2xx it counted by at most the connections open.
    return {"ok_responses": requests - non_2xx, "succeeded_rows_added": after - before}


def gunicorn_command(args: argparse.Namespace, port: int) -> list[str]:
    return [
        PY,
        "-m",
        "gunicorn",
        "gateway.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(args.workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(args.threads),
        "--log-level",
        "warning",
    ]


def load_average() -> list[float]:
    return [round(value, 2) for value in os.getloadavg()]


def report(name: str, run: dict[str, object]) -> None:
    tail = f"  p99.9 {run['p999_ms']:7.2f} ms" if "p999_ms" in run else ""
    print(
        f"{name:22s} {run['rps']:9.1f} req/s  p50 {run['p50_ms']:7.2f} ms  p99 {run['p99_ms']:7.2f} ms{tail}  "
        f"non-2xx {run['non_2xx']}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--citizens", type=int, default=2000)
    parser.add_argument("--population", type=int, default=10000)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn worker")
    parser.add_argument(
        "--lean-ceiling",
        default=str(ROOT.parent / "shared" / "bench" / "lean_ceiling"),
        help="folder of the lean ceiling yardstick (its run.sh)",
    )
    parser.add_argument(
        "--soak-exchanges",
        type=int,
        default=0,
        help="then keep exchanging (demo adapter, 32 connections) until this many exchanges in all, "
        "and report the workers' memory (DESIGN.md: < 150 MB after 100,000)",
    )
    args = parser.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk is missing: apt-get install wrk")

    env = bench_env(args)
    workdir = ROOT / "bench" / "results"
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"Creating {DB_NAME} and migrating…", flush=True)
    recreate_database()
    subprocess.run([PY, "manage.py", "migrate", "--no-input", "-v0"], cwd=ROOT, env=env, check=True)
    print(f"Seeding {args.citizens} citizens with active consents…", flush=True)
    seeded = json.loads(
        subprocess.run(
            [PY, "bench/seed.py", "seed", str(args.citizens), str(args.population)],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.splitlines()[-1]
    )
    # As autovacuum would after a bulk load (the lean ceiling's script does the same).
    with psycopg.connect(f"postgresql://postgres@127.0.0.1:5432/{DB_NAME}", autocommit=True) as conn:
        conn.execute("ANALYZE")
    slug = seeded["slug"]
    consents_file = workdir / "consents.txt"
    consents_file.write_text("".join(f"?consent={c}\n" for c in seeded["consents"]))
    subjects_file = workdir / "subjects.txt"
    subjects_file.write_text(
        "".join(
            json.dumps(
                {
                    "subject": s,
                    "fields": seeded["fields"],
                    "purpose": seeded["purpose"],
                    "consumer_siret": seeded["consumer_siret"],
                    "exchange_id": "00000000-0000-4000-8000-000000000000",
                }
            )
            + "\n"
            for s in seeded["subjects"]
        )
    )

    results: dict[str, object] = {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cores": os.cpu_count(),
        "citizens": args.citizens,
        "duration_s": args.duration,
        "gunicorn": {"workers": args.workers, "threads": args.threads},
        "load_average": {},
        "runs": {},
    }
    runs: dict[str, dict[str, object]] = results["runs"]  # type: ignore[assignment]
    loads: dict[str, list[float]] = results["load_average"]  # type: ignore[assignment]

    # The yardstick before and after the gateway's runs: the machine's speed drifts, and the ratio
    # compares the gateway with the mean of the two.
    loads["lean-ceiling-before"] = load_average()
    before = lean_ceiling(args)
    for name, run in before.items():
        report(name + " (before)", run)

    web_port, sandbox_port = free_port(), free_port()
    base, sandbox = f"http://127.0.0.1:{web_port}", f"http://127.0.0.1:{sandbox_port}"
    sandbox_cmd = [
        PY,
        "-m",
        "sandbox",
        "--port",
        str(sandbox_port),
        "--population",
        str(args.population),
        "--token",
        SANDBOX_TOKEN,
    ]
    gunicorn_cmd = gunicorn_command(args, web_port)
    with (
        process(sandbox_cmd, env, workdir / "sandbox.log"),
        process(gunicorn_cmd, env, workdir / "gunicorn.log") as server,
    ):
        wait_http(f"{sandbox}/healthz")
        wait_http(f"{base}/healthz")
        token = fetch_token(base, seeded["client_id"], seeded["client_secret"], slug)
        results["exchange_round_trips"] = int(
            subprocess.run(
                [PY, "bench/seed.py", "count", token, seeded["consents"][0]],
                cwd=ROOT,
                env=env,
                check=True,
                capture_output=True,
                text=True,
            ).stdout.split()[-1]
        )
        print(f"One exchange makes {results['exchange_round_trips']} database round trips.", flush=True)
        auth = f"Bearer {token}"
        dpop_key = ECKey.generate_key("P-256")
        dpop_token, dpop_nonce = fetch_dpop_token(base, seeded["client_id"], seeded["client_secret"], slug, dpop_key)
        plan = [
            ("exchange-demo", f"/api/v1/attestations/{slug}", consents_file, "GET", auth, ("demo", "")),
            # The same exchange with a DPoP-bound token: one proof checked (a signature, a Redis write) per call.
            (
                "exchange-demo-dpop",
                f"/api/v1/attestations/{slug}",
                consents_file,
                "GET",
                f"DPoP {dpop_token}",
                ("demo", ""),
            ),
            ("exchange-http", f"/api/v1/attestations/{slug}", consents_file, "GET", auth, ("http", sandbox)),
            ("sandbox-direct", f"/attestations/{slug}", subjects_file, "POST", f"Bearer {SANDBOX_TOKEN}", None),
        ]
        for name, path, input_file, method, authorization, adapter in plan:
            if adapter:
                subprocess.run([PY, "bench/seed.py", "adapter", *adapter], cwd=ROOT, env=env, check=True)
            url = sandbox if name == "sandbox-direct" else base
            loads[name] = load_average()
            for connections in (1, 32):

                def proofs(
                    seconds: int, connections: int = connections, name: str = name, path: str = path
                ) -> Path | None:
                    # Enough fresh proofs for the run (iat within the server's window, the current
                    # nonce), from the bearer run's rate with a margin.
                    if name != "exchange-demo-dpop":
                        return None
                    rate = float(runs[f"exchange-demo@{connections}"]["rps"])  # type: ignore[arg-type]
                    count = int(rate * seconds * 2) + 500
                    return dpop_proofs(workdir, dpop_key, base + path, dpop_token, dpop_nonce, count)

                # Warm-up: connections, caches, prepared statements, import-heavy first calls.
                wrk(
                    url,
                    path,
                    input_file,
                    method=method,
                    auth=authorization,
                    connections=connections,
                    duration=2,
                    proofs=proofs(2),
                )
                run = wrk(
                    url,
                    path,
                    input_file,
                    method=method,
                    auth=authorization,
                    connections=connections,
                    duration=args.duration,
                    proofs=proofs(args.duration),
                )
                runs[f"{name}@{connections}"] = run
                report(f"{name} c={connections}", run)
            if name == "exchange-demo":
                # The latency a user sees: a fixed arrival rate at half the closed loop's maximum.
                rate = round(float(runs["exchange-demo@32"]["rps"]) / 2, 1)  # type: ignore[arg-type]
                loads["exchange-demo-open-loop"] = load_average()
                results["open_loop"] = open_loop(base, path, input_file, authorization, rate, args.duration)
                report(f"{name} open loop at {rate} req/s", results["open_loop"])  # type: ignore[arg-type]
        results["gunicorn_worker_rss_mb"] = rss_mb(server.pid)
        subprocess.run([PY, "bench/seed.py", "adapter", "demo"], cwd=ROOT, env=env, check=True)
        if shutil.which("pgbouncer"):
            pgbouncer_phase(args, env, f"/api/v1/attestations/{slug}", consents_file, auth, workdir, runs, loads)
        results["two_instances_check"] = two_instances_phase(
            args, env, f"/api/v1/attestations/{slug}", consents_file, auth, workdir, runs, loads
        )
        if args.soak_exchanges:
            results["soak"] = soak(args, env, base, consents_file, slug, seeded, server.pid, runs)

    loads["lean-ceiling-after"] = load_average()
    after = lean_ceiling(args)
    for name, run in after.items():
        report(name + " (after)", run)
    for name in before:
        mean = (float(before[name]["rps"]) + float(after[name]["rps"])) / 2  # type: ignore[arg-type]
        runs[name] = {**before[name], "rps": round(mean, 1), "before": before[name], "after": after[name]}

    ratios = {}
    for connections in (1, 32):
        lean_rps = float(runs[f"lean-ceiling@{connections}"]["rps"])  # type: ignore[arg-type]
        for name in ("exchange-demo", "exchange-http"):
            ratios[f"{name}/lean-ceiling@{connections}"] = round(
                float(runs[f"{name}@{connections}"]["rps"]) / lean_rps,  # type: ignore[arg-type]
                3,
            )
        ratios[f"exchange-demo-dpop/exchange-demo@{connections}"] = round(
            float(runs[f"exchange-demo-dpop@{connections}"]["rps"])  # type: ignore[arg-type]
            / float(runs[f"exchange-demo@{connections}"]["rps"]),  # type: ignore[arg-type]
            3,
        )
        ratios[f"exchange-http/exchange-demo@{connections}"] = round(
            float(runs[f"exchange-http@{connections}"]["rps"]) / float(runs[f"exchange-demo@{connections}"]["rps"]),  # type: ignore[arg-type]
            3,
        )
        if f"exchange-demo-pgbouncer@{connections}" in runs:
            ratios[f"exchange-demo-pgbouncer/exchange-demo@{connections}"] = round(
                float(runs[f"exchange-demo-pgbouncer@{connections}"]["rps"])  # type: ignore[arg-type]
                / float(runs[f"exchange-demo@{connections}"]["rps"]),  # type: ignore[arg-type]
                3,
            )
    ratios["exchange-demo-two-instances/exchange-demo@32"] = round(
        float(runs["exchange-demo-two-instances@32"]["rps"]) / float(runs["exchange-demo@32"]["rps"]),  # type: ignore[arg-type]
        3,
    )
    results["ratios"] = ratios
    results["target"] = {
        "exchange-demo/lean-ceiling@1 >= 0.6": ratios["exchange-demo/lean-ceiling@1"] >= 0.6,
        "exchange-demo/lean-ceiling@32 >= 0.6": ratios["exchange-demo/lean-ceiling@32"] >= 0.6,
        "exchange-http/exchange-demo@32 >= 0.8": ratios["exchange-http/exchange-demo@32"] >= 0.8,
        "exchange-demo-dpop/exchange-demo@1 >= 0.85": ratios["exchange-demo-dpop/exchange-demo@1"] >= 0.85,
        "exchange-demo-dpop/exchange-demo@32 >= 0.85": ratios["exchange-demo-dpop/exchange-demo@32"] >= 0.85,
    }
    if "exchange-demo-pgbouncer/exchange-demo@32" in ratios:
        results["target"]["exchange-demo-pgbouncer/exchange-demo@32 >= 0.9"] = (  # type: ignore[index]
            ratios["exchange-demo-pgbouncer/exchange-demo@32"] >= 0.9
        )
    for key, value in ratios.items():
        print(f"ratio {key:38s} {value:.3f}")
    for key, ok in results["target"].items():  # type: ignore[attr-defined]
        print(f"target {key:38s} {'met' if ok else 'NOT met'}")
    print(f"load averages (1/5/15 min) as each phase began: {loads}")
    print(f"gunicorn worker RSS after the run: {results['gunicorn_worker_rss_mb']} MB")
    print(f"two instances: {results['two_instances_check']}")
    if "soak" in results:
        soaked = results["soak"]
        print(f"after {soaked['exchanges']} exchanges in all, worker RSS: {soaked['final_rss_mb']} MB")  # type: ignore[index]
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    out = workdir / f"exchange-{stamp}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"Written to {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
