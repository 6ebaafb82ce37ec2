"""The published key sets answer anything but a read in problem+json, like the rest of the API."""

from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/.well-known/jwks.json", "/.well-known/webhook-keys"])
@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_a_write_to_a_key_set_is_a_typed_405(path: str, method: str) -> None:
    # A browser-less client sends no CSRF token: the refusal is the method's, not CSRF's HTML page.
    client = Client(enforce_csrf_checks=True)

    response = getattr(client, method)(path, data="{}", content_type="application/json")

    assert response.status_code == 405
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "method_not_allowed"
    assert "GET" in response["Allow"]


def test_the_jwks_is_still_served() -> None:
    response = Client().get("/.well-known/jwks.json")

    assert response.status_code == 200 and response.json()["keys"]
