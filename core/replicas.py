"""Reads that may go to a streaming replica of PostgreSQL (DATABASE_REPLICA_URLS), and when not.

Only the views marked with `replica_view` read from a replica: the citizen's history and proofs,
the auditor console and its exports, the audit API's events, proofs and checkpoint, and the
statistics. Everything else, and every write, goes to the primary. A replica replays the
primary's changes with a lag (usually well under a second, more under load), so:

- **The freshness rule**: a client that has just acted (any request other than GET, HEAD or
  OPTIONS, or any request that changed its session, such as a login) reads the primary for
  DATABASE_REPLICA_STICKY_SECONDS afterwards, marked by a cookie. A citizen who just revoked a
  consent sees it in their history at once.
- A read inside a transaction on the primary stays on the primary (a service validating before
  it writes never reads a replica's older copy).
- One request reads from one replica (chosen at random), so its reads agree with each other.
- **Lag**: a replica further behind than DATABASE_REPLICA_MAX_LAG_SECONDS (or unreachable) is out
  of the rotation until it catches up; each process measures each replica's replay lag at most
  every DATABASE_REPLICA_LAG_CHECK_SECONDS, and /readyz reports it.
"""

from __future__ import annotations

import functools
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections, router
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.http import HttpRequest, HttpResponseBase

PRIMARY_COOKIE = "gw_primary"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# The replica this context reads from (None: the primary).
_alias: ContextVar[str | None] = ContextVar("replica_alias", default=None)
# Set for a request of a client that has just acted (the freshness rule).
_recently_acted: ContextVar[bool] = ContextVar("replica_recently_acted", default=False)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True)
class ReplicaLag:
    """A replica's replay lag as last measured: seconds behind the primary, or the error that
    kept it from being measured."""

    alias: str
    seconds: float | None
    error: str = ""
    measured_at: float = 0.0

    @property
    def in_rotation(self) -> bool:
        return self.seconds is not None and self.seconds <= settings.DATABASE_REPLICA_MAX_LAG_SECONDS

    def as_json(self) -> dict[str, object]:
        status = "fail" if self.seconds is None else ("ok" if self.in_rotation else "lagging")
        found: dict[str, object] = {"status": status, "in_rotation": self.in_rotation}
        if self.seconds is not None:
            found["lag_seconds"] = round(self.seconds, 3)
        if self.error:
            found["error"] = self.error
        return found


# Lag of the standby, by the primary's current WAL position: none when the standby has replayed
# all of it (an idle primary writes nothing, so the last replayed commit may be old); otherwise
# the time since the last commit it replayed (NULL, unknown, if none since it started).
_STANDBY_LAG = """
    SELECT CASE
        WHEN NOT pg_is_in_recovery() THEN 0
        WHEN pg_wal_lsn_diff(%s::pg_lsn, pg_last_wal_replay_lsn()) <= 0 THEN 0
        ELSE EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())
    END
"""

_lags: dict[str, ReplicaLag] = {}
_lags_lock = threading.Lock()


def replica_lag_measure(alias: str) -> ReplicaLag:
    """Measures `alias`'s replay lag now (pg_current_wal_lsn on the primary,
    pg_last_wal_replay_lsn and pg_last_xact_replay_timestamp on the replica)."""
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()")
            (position,) = cursor.fetchone()
        with connections[alias].cursor() as cursor:
            cursor.execute(_STANDBY_LAG, [str(position)])
            (seconds,) = cursor.fetchone()
    except Exception as exc:  # an unreachable replica is out of the rotation, not an error page
        lag = ReplicaLag(alias, None, type(exc).__name__, time.monotonic())
    else:
        lag = ReplicaLag(alias, max(0.0, float(seconds)) if seconds is not None else None, "", time.monotonic())
        if seconds is None:
            lag = ReplicaLag(alias, None, "replay time unknown", lag.measured_at)
    with _lags_lock:
        _lags[alias] = lag
    return lag


def replica_lag(alias: str) -> ReplicaLag:
    """`alias`'s lag as measured at most DATABASE_REPLICA_LAG_CHECK_SECONDS ago."""
    known = _lags.get(alias)
    if known is not None and time.monotonic() - known.measured_at < settings.DATABASE_REPLICA_LAG_CHECK_SECONDS:
        return known
    return replica_lag_measure(alias)


def _choose() -> str | None:
    aliases: list[str] = settings.DATABASE_REPLICA_ALIASES
    if not aliases or _recently_acted.get():
        return None
    fresh = [alias for alias in aliases if replica_lag(alias).in_rotation]
    return random.choice(fresh) if fresh else None  # noqa: S311 - spreading load, not a secret


@contextmanager
def replica_reads(alias: str | None = None, *, choose: bool = True) -> Iterator[None]:
    """Lets the ORM's reads in this block go to a replica (when one is configured and allowed)."""
    token = _alias.set(alias if alias is not None or not choose else _choose())
    try:
        yield
    finally:
        _alias.reset(token)


def primary_reads() -> AbstractContextManager[None]:
    """Reads in this block go to the primary, even inside a `replica_view`."""
    return replica_reads(None, choose=False)


def _streamed(chunks: Iterable[Any], alias: str | None) -> Iterator[Any]:
    # A streaming response's body is read after the view returned: it reads where the view did.
    with replica_reads(alias, choose=False):
        yield from chunks


def replica_view(view: Callable[P, R]) -> Callable[P, R]:
    """Marks a read-only view (a function view or an APIView's `get`) as served by a replica.

    Put it closest to the function: the decorators above it (login checks) read the primary.
    """

    @functools.wraps(view)
    def wrapped(*args: P.args, **kwargs: P.kwargs) -> R:
        with replica_reads():
            alias = _alias.get()
            response = view(*args, **kwargs)
        if alias is not None and getattr(response, "streaming", False):
            response.streaming_content = _streamed(response.streaming_content, alias)  # type: ignore[attr-defined]
        return response

    return wrapped


def reading_connection(model: type[Model]) -> BaseDatabaseWrapper:
    """The connection a raw read of `model`'s table goes through (as the ORM's would)."""
    return connections[router.db_for_read(model) or DEFAULT_DB_ALIAS]


class ReplicaRouter:
    """Django database router: reads marked by `replica_reads` go to the chosen replica."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str:
        alias = _alias.get()
        if alias is None or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        return alias

    def db_for_write(self, model: type[Model], **hints: Any) -> str:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, first: Model, second: Model, **hints: Any) -> bool:
        return True

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == DEFAULT_DB_ALIAS


class ReplicaFreshnessMiddleware:
    """The freshness rule: after acting, a client reads the primary for a few seconds."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if not settings.DATABASE_REPLICA_ALIASES:
            return self.get_response(request)
        token = _recently_acted.set(PRIMARY_COOKIE in request.COOKIES)
        try:
            response = self.get_response(request)
        finally:
            _recently_acted.reset(token)
        session = getattr(request, "session", None)
        if request.method not in SAFE_METHODS or (session is not None and session.modified):
            response.set_cookie(
                PRIMARY_COOKIE,
                "1",
                max_age=settings.DATABASE_REPLICA_STICKY_SECONDS,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response
