from __future__ import annotations

import time
from collections.abc import Callable

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponsePermanentRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from core.errors import (
    MethodNotAllowed,
    NotFound,
    PermissionDeniedError,
    ValidationError,
    internal_error,
    problem_response,
    wants_problem,
)
from core.jose import jwks
from core.replicas import replica_lag_measure
from gateway.celery import app as celery_app

# Readiness probes must answer quickly even when a dependency hangs.
PROBE_TIMEOUT_SECONDS = 2.0


@require_GET
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_redis() -> None:
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_timeout=PROBE_TIMEOUT_SECONDS, socket_connect_timeout=PROBE_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()


def _check_broker() -> None:
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=PROBE_TIMEOUT_SECONDS)


@require_GET
@never_cache
def readyz(request: HttpRequest) -> JsonResponse:
    checks: dict[str, Callable[[], None]] = {"database": _check_database}
    if settings.REDIS_URL:
        checks["redis"] = _check_redis
    if not settings.CELERY_TASK_ALWAYS_EAGER:
        checks["broker"] = _check_broker
    results: dict[str, dict[str, object]] = {}
    for name, check in checks.items():
        started = time.perf_counter()
        try:
            check()
        except Exception as exc:  # a probe reports, it never raises
            results[name] = {"status": "fail", "error": type(exc).__name__}
        else:
            results[name] = {"status": "ok", "ms": round((time.perf_counter() - started) * 1000, 1)}
    if not settings.REDIS_URL:
        results["redis"] = {"status": "ok", "mode": "embedded (eager tasks, local cache)"}
    failed = sorted(name for name, result in results.items() if result["status"] != "ok")
    body: dict[str, object] = {"status": "fail" if failed else "ok", "failed": failed, "checks": results}
    if settings.DATABASE_REPLICA_ALIASES:
        # Reported, never failing the node: a replica that lags or is down leaves the read
        # rotation and its reads go to the primary (core/replicas.py).
        body["replicas"] = {alias: replica_lag_measure(alias).as_json() for alias in settings.DATABASE_REPLICA_ALIASES}
    return JsonResponse(body, status=503 if failed else 200)


@csrf_exempt
def jwks_view(request: HttpRequest) -> JsonResponse:
    """The attestations' public keys. A write is refused in problem+json, like the API's: exempt
    from CSRF so that CSRF's HTML page never answers it first (the view changes nothing)."""
    if request.method not in ("GET", "HEAD"):
        refusal = problem_response(MethodNotAllowed("The key set is read with GET or HEAD."), request)
        refusal["Allow"] = "GET, HEAD"
        return refusal
    response = JsonResponse(jwks())
    response["Cache-Control"] = "public, max-age=300"
    return response


def home(request: HttpRequest) -> HttpResponse:
    demo_button = {"url": reverse("consent:demo-login"), "label": _("Demo login")}
    # No page title: the site's name alone titles its home page (base.html), not twice.
    return render(request, "gateway/home.html", {"demo_button": demo_button})


# The pages every public service has, each one template (gateway/templates/gateway/pages/).
PAGES = {
    "legal": ("gateway/pages/legal.html", gettext_lazy("Legal notice")),
    "personal-data": ("gateway/pages/personal_data.html", gettext_lazy("Personal data")),
    "accessibility": ("gateway/pages/accessibility.html", gettext_lazy("Accessibility statement")),
    "help": ("gateway/pages/help.html", gettext_lazy("Help and frequent questions")),
}


@require_GET
def page(request: HttpRequest, name: str) -> HttpResponse:
    template, title = PAGES[name]
    operator = {
        "name": settings.GATEWAY_OPERATOR_NAME,
        "address": settings.GATEWAY_OPERATOR_ADDRESS,
        "hosting": settings.GATEWAY_HOSTING,
        "contact": settings.GATEWAY_CONTACT_EMAIL,
        "dpo": settings.GATEWAY_DPO_EMAIL or settings.GATEWAY_CONTACT_EMAIL,
    }
    return render(request, template, {"title": title, "operator": operator})


@require_GET
def favicon(request: HttpRequest) -> HttpResponse:
    """Browsers ask for /favicon.ico whatever the page says: DSFR's Marianne."""
    return HttpResponsePermanentRedirect(static("dsfr/dist/favicon/favicon.ico"))


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if wants_problem(request):
        return problem_response(NotFound("No resource at this address."), request)
    return render(request, "error.html", {"title": _("Page not found"), "status": 404}, status=404)


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if wants_problem(request):
        return problem_response(ValidationError("The request is not valid."), request)
    return render(request, "error.html", {"title": _("Bad request"), "status": 400}, status=400)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    """What is missing, in plain words: the audit console is the gateway's auditors'; any other
    page an agent's roles do not open."""
    if wants_problem(request):
        return problem_response(PermissionDeniedError(), request)
    context = {"title": _("Access refused"), "status": 403, "audit": request.path.startswith("/audit/")}
    return render(request, "error.html", context, status=403)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """settings.CSRF_FAILURE_VIEW: a form sent after its page expired (or without its cookie)."""
    if wants_problem(request):
        return problem_response(PermissionDeniedError("The form's CSRF check failed."), request)
    return render(request, "error.html", {"title": _("The form has expired"), "status": 403, "csrf": True}, status=403)


def handler500(request: HttpRequest) -> HttpResponse:
    if wants_problem(request):
        return problem_response(internal_error(), request)
    return render(request, "error.html", {"title": _("Internal error"), "status": 500}, status=500)
