"""The citizen enters the one-time code an administration gave them: on their dashboard ("I have a
code"), or on the page a code-addressed request's link opens. The right code makes the request
theirs (consent.services.requests.consent_code_enter); attempts are limited per citizen and per
request."""

from __future__ import annotations

import math
import uuid

from django.conf import settings
from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from consent.auth import citizen_required, required_citizen
from consent.forms import OneTimeCodeForm
from consent.models import Citizen, Consent
from consent.selectors import consent_get_pending
from consent.services.requests import consent_code_enter
from consent.views import not_found_as_404, post_only
from core.errors import ValidationError
from core.ratelimit import ratelimit_count


def code_page(
    request: HttpRequest, form: OneTimeCodeForm, *, consent: Consent | None = None, status: int = 200
) -> HttpResponse:
    """The form, alone or for one request (named by its administration only: the link alone shows
    nothing more)."""
    context = {"title": _("I have a code"), "form": form, "consent": consent}
    return render(request, "consent/code.html", context, status=status)


def _wait(citizen: Citizen, consent_id: uuid.UUID | None) -> int | None:
    limit = settings.CONSENT_CODE_ATTEMPTS_PER_MINUTE
    keys = [f"one-time-code:citizen:{citizen.pk}"]
    if consent_id is not None:
        keys.append(f"one-time-code:consent:{consent_id}")
    waits = [ratelimit_count(key=key, limit=limit) for key in keys]
    return max((wait for wait in waits if wait is not None), default=None)


def _enter(request: HttpRequest, *, consent: Consent | None) -> HttpResponse:
    citizen = required_citizen(request)
    form = OneTimeCodeForm(request.POST)
    if not form.is_valid():
        return code_page(request, form, consent=consent, status=400)
    wait = _wait(citizen, consent.pk if consent is not None else None)
    if wait is not None:
        minutes = math.ceil(wait / 60)
        form.add_error(
            "code",
            ngettext(
                "Too many tries. Wait %(minutes)s minute, then try again.",
                "Too many tries. Wait %(minutes)s minutes, then try again.",
                minutes,
            )
            % {"minutes": minutes},
        )
        return code_page(request, form, consent=consent, status=429)
    try:
        bound = consent_code_enter(citizen=citizen, code=form.cleaned_data["code"], consent=consent)
    except ValidationError:
        form.add_error(
            "code",
            _(
                "This code does not open any request waiting for your decision. Check it against what the "
                "administration gave you; a code works once, and only until its request expires."
            ),
        )
        return code_page(request, form, consent=consent, status=400)
    done = _("The request from %(consumer)s is now addressed to you: only you may decide it.")
    messages.success(request, done % {"consumer": bound.consumer.name})
    return HttpResponseRedirect(reverse("consent:approval", args=[bound.pk]))


@require_http_methods(["GET", "POST"])
@never_cache
@citizen_required
def code_entry(request: HttpRequest) -> HttpResponse:
    """ "I have a code", from the dashboard."""
    if request.method == "POST":
        return _enter(request, consent=None)
    return code_page(request, OneTimeCodeForm())


@post_only("consent:approval", "consent_id")
@never_cache
@citizen_required
@not_found_as_404
def approval_code(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    """The code, entered on the page of the request's link."""
    consent = consent_get_pending(consent_id=consent_id)
    if consent.citizen_id is not None and consent.citizen_id == required_citizen(request).pk:
        # Already theirs (the form sent twice, the back button): straight to the request.
        return HttpResponseRedirect(reverse("consent:approval", args=[consent.pk]))
    return _enter(request, consent=consent)
