"""The public catalogue pages: the "repository of open APIs" of Government-as-a-Platform."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from core.errors import NotFound
from core.templatetags.localized_fields import localized
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
