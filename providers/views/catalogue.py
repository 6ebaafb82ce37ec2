"""The public pages about the administrations' data: the catalogue (the "repository of open APIs"
of Government-as-a-Platform) and the exchange statistics, which name the types and the
administrations the trail knows by slug and SIRET."""

from __future__ import annotations

import datetime as dt

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import formats, timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from audit.selectors import exchange_stats_daily
from core.errors import NotFound
from core.replicas import replica_view
from core.templatetags.localized_fields import localized
from providers.models import AttestationType, Organisation
from providers.selectors import attestation_type_get, catalogue_list


@require_GET
def catalogue_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "providers/catalogue.html",
        {"title": _("Attestation catalogue"), "attestation_types": catalogue_list()},
    )


@require_GET
def attestation_type_page(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        attestation_type = attestation_type_get(slug)
    except NotFound:
        raise Http404("No attestation type has this slug.") from None
    title = localized(attestation_type, "title")
    breadcrumb = {"links": [{"url": reverse("catalogue"), "title": _("Catalogue")}], "current": title}
    return render(
        request,
        "providers/attestation_type.html",
        {"title": title, "attestation_type": attestation_type, "breadcrumb_data": breadcrumb},
    )


@require_GET
@replica_view
def statistics(request: HttpRequest) -> HttpResponse:
    """The last 30 days of succeeded exchanges, by day, type, consumer and provider, counts under
    the suppression threshold withheld (audit.selectors); the API gives the same as CSV or JSON."""
    until = timezone.now().astimezone(dt.UTC).date()
    since = until - dt.timedelta(days=30)
    rows = exchange_stats_daily(since=since, until=until)
    types = {
        t.slug: localized(t, "title")
        for t in AttestationType.objects.filter(slug__in={r["attestation_type"] for r in rows})
    }
    sirets = {r["consumer"] for r in rows} | {r["provider"] for r in rows}
    names = dict(Organisation.objects.filter(siret__in=sirets).values_list("siret", "name"))
    # django-dsfr's table: a caption, header cells and rows of plain (escaped) cells.
    table = {
        "caption": _("Succeeded exchanges per day"),
        "header": [_("Date"), _("Attestation"), _("Asked by"), _("Held by"), _("Count")],
        "content": [
            [
                formats.date_format(dt.date.fromisoformat(str(row["date"])), "j F Y"),
                types.get(row["attestation_type"], row["attestation_type"]),
                names.get(row["consumer"], row["consumer"]),
                names.get(row["provider"], row["provider"]),
                "<10" if row["suppressed"] else row["count"],
            ]
            for row in rows
        ],
    }
    return render(
        request,
        "providers/statistics.html",
        {"title": _("Statistics"), "table": table, "since": since, "until": until},
    )
