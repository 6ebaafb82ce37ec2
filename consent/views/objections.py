"""The citizen says they do not recognise an access from their history (consent.services.objections)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods

from audit.selectors import history_rows_for_citizen, objections_for_citizen
from consent.auth import citizen_required, required_citizen
from consent.forms import ObjectionForm
from consent.services.objections import objection_report
from consent.views import not_found_as_404
from consent.views.history import OBJECTABLE, history_entries
from core.errors import GatewayError


@require_http_methods(["GET", "POST"])
@never_cache
@citizen_required
@not_found_as_404
def objection(request: HttpRequest, event_id: int) -> HttpResponse:
    citizen = required_citizen(request)
    if event_id >= 2**63:
        raise Http404
    # The one entry of their own history this is about; anyone else's event does not exist here.
    rows = history_rows_for_citizen(citizen_ref=citizen.ref, limit=1, before_id=event_id + 1)
    if not rows or rows[0].event_id != event_id or rows[0].type not in OBJECTABLE:
        raise Http404
    # One report per access: once made, the page shows where it stands instead of a new form.
    reported = objections_for_citizen(citizen_ref=citizen.ref, event_ids=[event_id]).get(event_id)
    [entry] = history_entries(rows, {event_id: reported} if reported else None)
    if reported is not None:
        if request.method == "POST":
            messages.info(request, _("You already reported this access: its answer will show here, in your history."))
            return HttpResponseRedirect(reverse("consent:history") + f"#event-{event_id}")
        context = {"title": _("I don't recognise this access"), "entry": entry, "form": None}
        return render(request, "consent/objection.html", context)
    form = ObjectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            objection_report(citizen=citizen, event_id=event_id, text=form.cleaned_data["text"])
        except GatewayError:
            form.add_error("text", _("Say in a few words what you do not recognise."))
        else:
            messages.success(
                request,
                _("Your report is sent. The auditors will answer you here, in your history."),
            )
            return HttpResponseRedirect(reverse("consent:history") + f"#event-{event_id}")
    context = {"title": _("I don't recognise this access"), "entry": entry, "form": form}
    return render(request, "consent/objection.html", context, status=400 if form.errors else 200)
