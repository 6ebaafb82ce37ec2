"""The PostgreSQL backend's health checks (core/db/postgresql): a connection that served a request
less than DATABASE_HEALTH_CHECK_DELAY seconds ago serves the next one without `SELECT 1`; an older
one is checked, and replaced when its server process has gone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.db import OperationalError, connection, connections
from django.db.backends.base.base import BaseDatabaseWrapper

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def other() -> Iterator[BaseDatabaseWrapper]:
    """A second connection to the test database, as a worker thread of the server holds one."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's backend")
    wrapper = connections.create_connection("default")
    yield wrapper
    wrapper.close()


def served_a_request(wrapper: BaseDatabaseWrapper) -> int:
    """One request's life as Django's request signals drive it; returns the server process id."""
    wrapper.close_if_unusable_or_obsolete()
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = int(cursor.fetchone()[0])
    wrapper.close_if_unusable_or_obsolete()
    return pid


def server_process_killed(pid: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s, 5000)", [pid])


def test_a_connection_that_just_worked_is_not_checked_again(other: BaseDatabaseWrapper) -> None:
    other.health_check_delay = 3600
    pid = served_a_request(other)
    # Its server process goes between two requests: within the delay nothing asks, so the next
    # request's query is the first to find out (what skipping the round trip gives up).
    server_process_killed(pid)
    with pytest.raises(OperationalError):
        served_a_request(other)
    # The failed request marked the connection: the one after it gets a new one.
    assert served_a_request(other) != pid


def test_a_connection_idle_for_longer_is_checked_and_replaced(other: BaseDatabaseWrapper) -> None:
    other.health_check_delay = 3600
    pid = served_a_request(other)
    other.verified_at -= 3600  # idle for longer than the delay
    server_process_killed(pid)
    assert served_a_request(other) != pid


def test_a_request_that_ran_no_query_does_not_vouch_for_the_connection(other: BaseDatabaseWrapper) -> None:
    other.health_check_delay = 3600
    served_a_request(other)
    verified_at = other.verified_at
    other.close_if_unusable_or_obsolete()
    other.close_if_unusable_or_obsolete()  # a request that never queried
    assert other.verified_at == verified_at
