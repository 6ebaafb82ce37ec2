"""The gateway deployed as an operator runs it, for the scale tests: a database of its own on the
test run's PostgreSQL, gunicorn instances, Celery workers and, when asked, PgBouncer in front.

Every process is a real one, on a free port, stopped (and the database dropped) when the test ends.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg

from tests.processes import CeleryWorker, free_port, wait_for_http, wait_until

ROOT = Path(__file__).resolve().parents[2]
SLUG = "cnaf.quotient-familial"


@dataclass(frozen=True)
class Server:
    """Where a PostgreSQL (or PgBouncer) listens, and as whom the tests connect."""

    host: str
    port: int
    user: str

    @classmethod
    def of_test_run(cls) -> Server:
        parts = urlsplit(os.environ["DATABASE_URL"])
        return cls(parts.hostname or "127.0.0.1", parts.port or 5432, parts.username or "postgres")

    def url(self, database: str) -> str:
        return f"postgres://{self.user}@{self.host}:{self.port}/{database}"

    def connect(self, database: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(self.url(database), autocommit=True)


class PgBouncer:
    """PgBouncer in transaction mode in front of `upstream`, with `pool_size` server connections
    per database: fewer than the clients, so that they really take turns on each one."""

    def __init__(self, upstream: Server, *, pool_size: int = 2) -> None:
        if shutil.which("pgbouncer") is None:
            raise RuntimeError("pgbouncer is missing: apt-get install pgbouncer")
        # PgBouncer refuses to run as root; as root it switches to the postgres user, who must
        # read its files.
        self.directory = Path(tempfile.mkdtemp(prefix="gw-pgbouncer-"))
        self.directory.chmod(0o755)
        self.port = free_port()
        (self.directory / "users.txt").write_text(f'"{upstream.user}" ""\n')
        (self.directory / "pgbouncer.ini").write_text(
            "[databases]\n"
            f"* = host={upstream.host} port={upstream.port}\n"
            "[pgbouncer]\n"
            f"listen_addr = 127.0.0.1\nlisten_port = {self.port}\nunix_socket_dir =\n"
            f"auth_type = trust\nauth_file = {self.directory / 'users.txt'}\n"
            f"pool_mode = transaction\ndefault_pool_size = {pool_size}\nmax_client_conn = 500\n"
            f"admin_users = {upstream.user}\n"
        )
        for path in self.directory.iterdir():
            path.chmod(0o644)
        command = ["pgbouncer"]
        if os.geteuid() == 0:
            command += ["-u", "postgres"]
        self.log = self.directory / "pgbouncer.log"
        with self.log.open("wb") as output:
            self.process = subprocess.Popen(
                [*command, str(self.directory / "pgbouncer.ini")], stdout=output, stderr=subprocess.STDOUT
            )
        self.server = Server("127.0.0.1", self.port, upstream.user)
        wait_until(self._up, timeout=30, what="PgBouncer accepting connections", context=self.log_tail)

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise AssertionError(f"PgBouncer exited\n{self.log_tail()}")
        try:
            with self.server.connect("pgbouncer") as connection:
                connection.execute("SHOW VERSION")
        except psycopg.Error:
            return False
        return True

    def log_tail(self) -> str:
        return "PgBouncer's log (end):\n" + self.log.read_text(errors="replace")[-3000:]

    def show(self, what: str) -> list[dict[str, Any]]:
        """A table of PgBouncer's admin console (`SHOW POOLS`, `SHOW STATS`...)."""
        with self.server.connect("pgbouncer") as connection:
            cursor = connection.execute(f"SHOW {what}")
            names = [column.name for column in cursor.description or ()]
            return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class Deployment:
    """One gateway: its database (on `primary`), reached through `through` (PgBouncer, or the
    primary itself), its Redis database and Celery queue, and the processes it runs."""

    primary: Server
    through: Server
    directory: Path
    redis_url: str
    extra_env: dict[str, str] = field(default_factory=dict)
    replica: Server | None = None
    database: str = field(default_factory=lambda: f"gw_scale_{secrets.token_hex(4)}")
    queue: str = field(default_factory=lambda: f"scale-{secrets.token_hex(4)}")
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    workers: list[CeleryWorker] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "VIRTUAL_ENV")
        env = {name: os.environ[name] for name in keep if name in os.environ}
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "gateway.settings",
                "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1",
                "DEBUG": "0",
                "SECRET_KEY": "scale-test-secret-key-" + "0" * 40,
                "AUDIT_HMAC_KEY": "scale-test-audit-key",
                "DATABASE_URL": self.through.url(self.database),
                "REDIS_URL": self.redis_url,
                "CELERY_QUEUE": self.queue,
                "CACHE_KEY_PREFIX": self.queue,
                "ALLOWED_HOSTS": "127.0.0.1,localhost",
                "SECURE_SSL_REDIRECT": "0",
                "SESSION_COOKIE_SECURE": "0",
                "STATIC_MANIFEST": "0",
                "GATEWAY_KEYS_DIR": str(self.directory / "keys"),
                "GATEWAY_KEYS_GENERATE": "1",
                "GATEWAY_DEMO": "0",
                "LOG_LEVEL": "WARNING",
                "SEED_CLIENT_ID": self.queue,
                "DATABASE_REPLICA_URLS": self.replica.url(self.database) if self.replica else "",
                **self.extra_env,
            }
        )
        return env

    def create(self) -> None:
        with self.primary.connect() as connection:
            connection.execute(f"CREATE DATABASE {self.database}")
        self.manage("migrate", "--no-input", "-v0")

    def manage(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def seed(self, citizens: int) -> dict[str, Any]:
        """The demo catalogue, `citizens` citizens each with an active consent for the demo city
        hall, and its OAuth client (bench/seed.py, the benchmark's own seeding)."""
        done = subprocess.run(
            [sys.executable, "bench/seed.py", "seed", str(citizens), "1000"],
            cwd=ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        seeded: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
        return seeded

    def web(self, *, workers: int = 2, threads: int = 4) -> str:
        """A gunicorn instance as compose.yaml runs it; returns its base URL once it answers."""
        port = free_port()
        log = (self.directory / f"gunicorn-{port}.log").open("wb")
        self.processes.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "gunicorn",
                    "gateway.wsgi:application",
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--workers",
                    str(workers),
                    "--worker-class",
                    "gthread",
                    "--threads",
                    str(threads),
                ],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        )
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/healthz")
        return base

    def worker(self) -> CeleryWorker:
        # At INFO, each task's outcome is in the worker's log.
        worker = CeleryWorker(
            queue=self.queue,
            env=self.env,
            cwd=ROOT,
            log=self.directory / f"worker-{len(self.workers)}.log",
            loglevel="INFO",
        )
        self.workers.append(worker)
        return worker

    def query(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        """Reads the deployment's database directly on the primary."""
        with self.primary.connect(self.database) as connection:
            return connection.execute(sql, params).fetchall()  # type: ignore[arg-type]

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        for process in self.processes:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(timeout=15)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        with self.primary.connect() as connection:
            connection.execute(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")

    def log_tail(self) -> str:
        return "\n".join(
            f"{path.name} (end):\n{path.read_text(errors='replace')[-2000:]}" for path in self.directory.glob("*.log")
        )


@contextmanager
def deployed(
    directory: Path,
    *,
    primary: Server | None = None,
    through: Server | None = None,
    replica: Server | None = None,
    **extra_env: str,
) -> Iterator[Deployment]:
    primary = primary or Server.of_test_run()
    deployment = Deployment(
        primary=primary,
        through=through or primary,
        directory=directory,
        redis_url=os.environ["REDIS_URL"],
        extra_env=extra_env,
        replica=replica,
    )
    try:
        deployment.create()
        yield deployment
    except BaseException:
        # pytest shows what a failing test printed: the servers' own account of the failure.
        print(deployment.log_tail())
        raise
    finally:
        deployment.stop()


def access_token(base: str, seeded: dict[str, Any], scope: str) -> str:
    body = urllib.parse.urlencode({"grant_type": "client_credentials", "scope": scope}).encode()
    request = urllib.request.Request(f"{base}/oauth/token/", data=body, method="POST")  # noqa: S310
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    credentials = urllib.parse.quote(seeded["client_id"]) + ":" + urllib.parse.quote(seeded["client_secret"])
    request.add_header("Authorization", "Basic " + base64.b64encode(credentials.encode()).decode())
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback test servers
        return str(json.loads(response.read())["access_token"])


def _postgres_bin() -> Path:
    """Debian's PostgreSQL server programs (the newest installed major version)."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda path: int(path.parts[-3]))
    return found[-1].parent if found else Path("/usr/lib/postgresql/15/bin")


POSTGRES_BIN = _postgres_bin()


class StreamingPair:
    """A PostgreSQL primary and its hot standby, fed by streaming replication: two clusters of
    their own (initdb, then pg_basebackup of the primary), in a temporary folder, on free ports."""

    def __init__(self) -> None:
        if not (POSTGRES_BIN / "initdb").exists():
            raise RuntimeError(f"PostgreSQL's server programs are missing from {POSTGRES_BIN}")
        self.directory = Path(tempfile.mkdtemp(prefix="gw-replication-"))
        # PostgreSQL refuses to run as root: as root, the clusters belong to the postgres user.
        self.as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_postgres:
            shutil.chown(self.directory, "postgres")
        self.primary = Server("127.0.0.1", free_port(), "postgres")
        self.standby = Server("127.0.0.1", free_port(), "postgres")
        self._run("initdb", "-D", str(self.directory / "primary"), "-U", "postgres", "--auth=trust", "--no-sync")
        self._start("primary", self.primary.port)
        self._run(
            "pg_basebackup",
            "-h",
            self.primary.host,
            "-p",
            str(self.primary.port),
            "-U",
            "postgres",
            "-D",
            str(self.directory / "standby"),
            "--write-recovery-conf",
            "--wal-method=stream",
            "--checkpoint=fast",
            "--no-sync",
        )
        self._start("standby", self.standby.port)

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [*self.as_postgres, str(POSTGRES_BIN / program), *args], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{program} failed:\n{done.stdout}{done.stderr}"

    def _start(self, name: str, port: int) -> None:
        options = (
            f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.directory}"
            " -c wal_level=replica -c max_wal_senders=4 -c hot_standby=on -c fsync=off"
            " -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=32MB"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.directory / name),
            "-l",
            str(self.directory / f"{name}.log"),
            "-o",
            options,
            "-w",
            "start",
        )

    def replay_pause(self) -> None:
        with self.standby.connect() as connection:
            connection.execute("SELECT pg_wal_replay_pause()")

    def replay_resume(self) -> None:
        with self.standby.connect() as connection:
            connection.execute("SELECT pg_wal_replay_resume()")

    def caught_up(self) -> bool:
        """The standby has replayed everything the primary has written."""
        with self.primary.connect() as connection:
            [(written,)] = connection.execute("SELECT pg_current_wal_lsn()").fetchall()
        with self.standby.connect() as connection:
            [(behind,)] = connection.execute(
                "SELECT pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn())", (written,)
            ).fetchall()
        return bool(behind <= 0)

    def stop(self) -> None:
        for name in ("standby", "primary"):
            if (self.directory / name / "postmaster.pid").exists():
                subprocess.run(
                    [
                        *self.as_postgres,
                        str(POSTGRES_BIN / "pg_ctl"),
                        "-D",
                        str(self.directory / name),
                        "-m",
                        "immediate",
                        "-w",
                        "stop",
                    ],
                    capture_output=True,
                    timeout=60,
                )
        shutil.rmtree(self.directory, ignore_errors=True)
