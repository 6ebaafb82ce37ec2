"""Pages of the trail: the auditor console (agents with the auditor role) and public statistics."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBase, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render, resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from dsfr.forms import DsfrBaseForm

from audit.exports import csv_lines, export_lines, log_verification_status
from audit.models import ActorKind, EventType, Objection
from audit.sealer import log_size
from audit.selectors import (
    EventFilters,
    checkpoint_latest,
    events_matching,
    events_search,
    objections_for_auditors,
    validate_trail_date,
)
from audit.services import Actor, auditor_search_record, objection_answer, objection_close, objection_concerns
from core.errors import GatewayError, PermissionDeniedError, ValidationError
from core.replicas import replica_view
from core.roles import AUDITOR, user_has_role, user_organisation_siret

# Verifying the whole log inline is fine while it is small; beyond, the console shows the result
# cached by the periodic `audit.tasks.verify`.
INLINE_VERIFY_MAX = 100_000
PAGE_SIZE = 50


def auditor_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Agents with the auditor role only (asked live, through core.roles: not Django's staff flag,
    which is for operators and the admin). Anonymous visitors go to the agents' login, back here
    after it (the home page links the console); other users are refused (403, a page saying so)."""

    def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), login_url=settings.LOGIN_URL)
        if not user_has_role(request.user, AUDITOR):
            raise PermissionDenied
        return view(request, *args, **kwargs)

    wrapped.__name__ = view.__name__
    wrapped.__doc__ = view.__doc__
    return wrapped


class SearchForm(DsfrBaseForm):
    date_from = forms.DateField(
        required=False,
        label=pgettext_lazy("a date range", "From"),
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_trail_date],
    )
    date_to = forms.DateField(
        required=False,
        label=gettext_lazy("To (included)"),
        widget=forms.DateInput(attrs={"type": "date"}),
        validators=[validate_trail_date],
    )
    consumer = forms.RegexField(regex=r"^\d{14}$", required=False, label=gettext_lazy("Consumer SIRET"))
    provider = forms.RegexField(regex=r"^\d{14}$", required=False, label=gettext_lazy("Provider SIRET"))
    attestation_type = forms.CharField(required=False, max_length=100, label=gettext_lazy("Attestation type"))
    type = forms.ChoiceField(required=False, choices=[("", "—"), *EventType.choices], label=gettext_lazy("Event type"))
    consent_id = forms.UUIDField(required=False, label=gettext_lazy("Consent id"))
    citizen_ref = forms.RegexField(regex=r"^[0-9a-f]{64}$", required=False, label=gettext_lazy("Citizen reference"))
    justification = forms.CharField(
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        label=gettext_lazy("Justification (required with a citizen reference, no personal data)"),
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("citizen_ref") and len((data.get("justification") or "").strip()) < 10:
            self.add_error("justification", _("A written justification is required."))
        return data

    def filters(self) -> EventFilters:
        data = self.cleaned_data

        def start(day: dt.date | None, shift: int = 0) -> dt.datetime | None:
            return dt.datetime.combine(day + dt.timedelta(days=shift), dt.time.min, tzinfo=dt.UTC) if day else None

        return EventFilters(
            occurred_from=start(data.get("date_from")),
            occurred_to=start(data.get("date_to"), 1),
            consumer=data.get("consumer") or "",
            provider=data.get("provider") or "",
            attestation_type=data.get("attestation_type") or "",
            type=data.get("type") or "",
            consent_id=data.get("consent_id"),
            citizen_ref=data.get("citizen_ref") or "",
        )


def _actor(request: HttpRequest) -> Actor:
    return Actor(ActorKind.AUDITOR, request.user.get_username())


def _bound_form(request: HttpRequest) -> SearchForm | None:
    params = request.GET.copy()
    for name in ("cursor", "search"):
        params.pop(name, None)
    return SearchForm(params) if "search" in request.GET else None


@require_GET
@never_cache
@auditor_required
@replica_view
def console(request: HttpRequest) -> HttpResponse:
    form = _bound_form(request) or SearchForm()
    page = None
    if form.is_bound and form.is_valid():
        filters = form.filters()
        auditor_search_record(
            actor=_actor(request), filters=filters.as_detail(), justification=form.cleaned_data["justification"]
        )
        try:
            page = events_search(filters=filters, cursor=request.GET.get("cursor") or None, limit=PAGE_SIZE)
        except ValidationError:
            form.add_error(None, _("Invalid pagination cursor."))
    size = log_size()
    status = log_verification_status(compute=size <= INLINE_VERIFY_MAX)
    query = request.GET.copy()
    query.pop("cursor", None)
    context = {
        "title": _("Audit console"),
        "form": form,
        "page": page,
        "query": query.urlencode(),
        "checkpoint": checkpoint_latest(),
        "verification": status,
        "tree_size": size,
    }
    return render(request, "audit/console.html", context)


@require_GET
@auditor_required
@replica_view
def console_export_csv(request: HttpRequest) -> HttpResponseBase:
    form = _bound_form(request) or SearchForm({})
    if not form.is_valid():
        return redirect(reverse("audit:console") + "?" + request.GET.urlencode())
    filters = form.filters()
    auditor_search_record(
        actor=_actor(request),
        filters=filters.as_detail(),
        justification=form.cleaned_data["justification"],
        export_format="csv",
    )
    response = StreamingHttpResponse(
        csv_lines(events_matching(filters).iterator(chunk_size=2000)), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = 'attachment; filename="audit-events.csv"'
    return response


@require_GET
@auditor_required
@replica_view
def console_export_jsonl(request: HttpRequest) -> HttpResponseBase:
    """The whole log in the verifier's format: `python verifier.pyz FILE --key KEY`."""
    auditor_search_record(actor=_actor(request), filters={}, export_format="jsonl")
    response = StreamingHttpResponse(export_lines(checkpoints="all"), content_type="application/jsonl; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="audit-export.jsonl"'
    return response


class AnswerForm(DsfrBaseForm):
    answer = forms.CharField(
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 6}),
        label=gettext_lazy("Answer to the person"),
        help_text=gettext_lazy("The person reads it in their history. Plain words; no other person's data."),
    )


@require_GET
@never_cache
@auditor_required
def objections(request: HttpRequest) -> HttpResponse:
    """The citizens' objections: open cases first."""
    status = request.GET.get("status", "")
    cases = list(objections_for_auditors(status=status if status in Objection.Status.values else None)[:200])
    context = {"title": _("Citizens' objections"), "cases": cases, "statuses": Objection.Status.choices}
    return render(request, "audit/objections.html", context)


@require_http_methods(["GET", "POST"])
@never_cache
@auditor_required
def objection(request: HttpRequest, objection_id: str) -> HttpResponse:
    """One case: the event, the person's words; answer it, then close it."""
    case = get_object_or_404(Objection.objects.select_related("event"), pk=objection_id)
    # An auditor reads a case about their own organisation but never handles it.
    siret = user_organisation_siret(request.user)
    own = objection_concerns(case, siret)
    if own and request.method == "POST":
        raise PermissionDenied
    form = AnswerForm(request.POST if "answer" in request.POST else None, initial={"answer": case.answer})
    if request.method == "POST":
        try:
            if "close" in request.POST:
                objection_close(objection=case, actor=_actor(request), actor_siret=siret)
                messages.success(request, _("The case is closed."))
                return redirect(reverse("audit:objection", args=[case.pk]))
            if form.is_valid():
                objection_answer(
                    objection=case, answer=form.cleaned_data["answer"], actor=_actor(request), actor_siret=siret
                )
                messages.success(request, _("Your answer is saved; the person can read it in their history."))
                return redirect(reverse("audit:objection", args=[case.pk]))
        except PermissionDeniedError:
            raise PermissionDenied from None
        except GatewayError:
            form.add_error(None, _("This is not possible in the case's current state."))
    context = {"title": _("Objection"), "case": case, "form": form, "own": own}
    return render(request, "audit/objection.html", context, status=400 if form.errors else 200)


@require_GET
def console_login(request: HttpRequest) -> HttpResponse:
    """Auditors are agents: they log in like every agent (settings.LOGIN_URL: ProConnect), back here."""
    return redirect_to_login(reverse("audit:console"), login_url=settings.LOGIN_URL)


@require_POST
def console_logout(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect(resolve_url(settings.LOGIN_URL))
