"""The citizen chooses how they are told of accesses to their data (consent/services/notices.py)."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from consent.auth import citizen_required, required_citizen
from consent.forms import NotificationPreferencesForm
from consent.services.citizens import citizen_notifications_set


@require_http_methods(["GET", "POST"])
@never_cache
@citizen_required
def preferences(request: HttpRequest) -> HttpResponse:
    citizen = required_citizen(request)
    form = NotificationPreferencesForm(
        request.POST or None,
        initial={"notify": citizen.notify, "email": citizen.email or ""},
        known_address=bool(citizen.email),
    )
    if request.method == "POST" and form.is_valid():
        citizen_notifications_set(
            citizen=citizen,
            notify=form.cleaned_data["notify"],
            email=form.cleaned_data["email"],
            language=getattr(request, "LANGUAGE_CODE", ""),
        )
        messages.success(request, _("Your choice is saved."))
        return HttpResponseRedirect(reverse("consent:notifications"))
    context = {"title": _("Being told of accesses to my data"), "form": form, "citizen": citizen}
    return render(request, "consent/notifications.html", context, status=400 if form.errors else 200)
