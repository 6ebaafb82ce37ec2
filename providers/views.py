"""The public catalogue pages: the "repository of open APIs" of Government-as-a-Platform."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from core.errors import NotFound
from providers.selectors import attestation_type_get, catalogue_list


@require_GET
def catalogue_page(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "providers/catalogue.html",
        {"title": "Catalogue des attestations", "attestation_types": catalogue_list()},
    )


@require_GET
def attestation_type_page(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        attestation_type = attestation_type_get(slug)
    except NotFound:
        raise Http404("No attestation type has this slug.") from None
    return render(
        request,
        "providers/attestation_type.html",
        {"title": attestation_type.title_fr, "attestation_type": attestation_type},
    )
