"""The CSP middleware builds the settings' policy once, and still gives way to a view's own policy,
a nonce, an exemption and a change of the settings."""

from __future__ import annotations

from collections.abc import Callable

from csp.constants import HEADER, NONCE, SELF
from csp.decorators import csp_exempt, csp_update
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.test import RequestFactory, override_settings

from core.csp import CSPMiddleware

POLICY = {"DIRECTIVES": {"default-src": [SELF], "script-src": [SELF]}}


def respond(view: Callable[[HttpRequest], HttpResponseBase]) -> HttpResponseBase:
    response = CSPMiddleware(view)(RequestFactory().get("/api/v1/attestations/x"))
    assert isinstance(response, HttpResponseBase)
    return response


def directives(header: str) -> set[str]:
    # django-csp orders the directives as a set iterates them.
    return set(header.split("; "))


def plain(request: HttpRequest) -> HttpResponse:
    return HttpResponse("{}", content_type="application/json")


@override_settings(CONTENT_SECURITY_POLICY=POLICY)
def test_a_response_gets_the_settings_policy_every_time() -> None:
    assert directives(respond(plain)[HEADER]) == {"default-src 'self'", "script-src 'self'"}
    assert directives(respond(plain)[HEADER]) == {"default-src 'self'", "script-src 'self'"}


def test_a_change_of_the_settings_changes_the_policy() -> None:
    with override_settings(CONTENT_SECURITY_POLICY=POLICY):
        assert directives(respond(plain)[HEADER]) == {"default-src 'self'", "script-src 'self'"}
    with override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": {"default-src": ["'none'"]}}):
        assert respond(plain)[HEADER] == "default-src 'none'"


@override_settings(CONTENT_SECURITY_POLICY={"DIRECTIVES": {"default-src": [SELF], "script-src": [SELF, NONCE]}})
def test_a_nonce_used_by_the_page_is_in_its_header() -> None:
    def page(request: HttpRequest) -> HttpResponse:
        return HttpResponse(f"<script nonce='{request.csp_nonce}'></script>")  # type: ignore[attr-defined]

    response = respond(page)
    assert isinstance(response, HttpResponse)
    nonce = response.content.decode().split("'")[1]
    assert f"'nonce-{nonce}'" in response[HEADER]


@override_settings(CONTENT_SECURITY_POLICY=POLICY)
def test_a_view_s_own_policy_and_exemption_are_kept() -> None:
    updated = respond(csp_update({"img-src": ["https://tiles.example"]})(plain))
    assert "img-src https://tiles.example" in updated[HEADER]
    assert HEADER not in respond(csp_exempt()(plain))


@override_settings(CONTENT_SECURITY_POLICY={**POLICY, "EXCLUDE_URL_PREFIXES": ["/api/"]})
def test_an_excluded_prefix_gets_none() -> None:
    assert HEADER not in respond(plain)
