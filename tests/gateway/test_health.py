from __future__ import annotations

import pytest
from django.test import Client, override_settings

pytestmark = pytest.mark.django_db


class TestHealth:
    def test_it_says_the_process_is_alive(self, client: Client) -> None:
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}

    def test_it_reports_ready_when_database_redis_and_broker_answer(self, client: Client) -> None:
        response = client.get("/readyz")
        assert response.status_code == 200
        body = response.json()
        assert body["status"] == "ok"
        assert set(body["checks"]) == {"database", "redis", "broker"}

    def test_it_names_the_dependency_that_is_down(self, client: Client, settings: object) -> None:
        from gateway.celery import app

        # Celery read its broker from the settings once: set it, and put the real one back after.
        broker_url = app.conf.broker_url
        # Port 1 on loopback: nothing listens there, so the connection is refused at once.
        with override_settings(REDIS_URL="redis://127.0.0.1:1/0", CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
            app.conf.broker_url = "redis://127.0.0.1:1/0"
            try:
                response = client.get("/readyz")
            finally:
                app.conf.broker_url = broker_url
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "fail"
        assert body["failed"] == ["broker", "redis"]
        assert body["checks"]["database"]["status"] == "ok"
