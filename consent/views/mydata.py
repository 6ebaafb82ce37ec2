"""What the gateway holds about the citizen: one archive of it all, a receipt to print, and a
proof checked step by step."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from audit.models import Objection
from audit.proofcheck import proof_check
from audit.sealer import log_verifier_key
from audit.selectors import events_for_citizen, proof_bundle
from consent.auth import citizen_required, required_citizen
from consent.models import Citizen
from consent.presentation import identity_lines, status_sentence
from consent.selectors import consent_get_for_citizen, consents_for_citizen
from consent.services.artefacts import consent_receipt
from consent.terms import purpose_of, terms_for_consent
from consent.views import not_found_as_404
from core.errors import NotFound
from core.places import place_name

# The proofs put in an archive: the newest events' (each is a few small queries).
ARCHIVE_PROOFS_MAX = 500
ARCHIVE_EVENTS_MAX = 10_000

README = """Vos données détenues par la passerelle « Dites-le-nous une fois »
(Your data held by the "Provide it once" gateway)

identite.json        Votre identité pivot telle que la passerelle la détient (chiffrée au repos), votre
                     adresse électronique et votre choix de notification.
consentements.json   Chaque consentement : reçu au format ISO/IEC TS 27560 (qui, quoi, pourquoi,
                     base légale, durée, comment retirer).
consentements/*.jws  L'artefact signé de chaque consentement accepté (JWS compact, clés publiées à
                     /.well-known/jwks.json).
historique.json      Tout ce que le journal d'audit contient à votre sujet, du plus récent au plus ancien.
preuves/*.json       Pour chaque événement scellé, la preuve qu'il figure dans le journal signé :
                     python verifier.pyz preuves/N.json --bundle --key "<clé publique du journal>"
signalements.json    Vos signalements d'accès que vous ne reconnaissiez pas, et leurs réponses.
cle-publique-du-journal.txt   La clé publique du journal, à comparer avec celle publiée ailleurs.

La passerelle ne conserve aucune copie des attestations échangées : elles ne figurent donc pas ici.
The gateway keeps no copy of the attestations exchanged, so none is here.
"""


def _json(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, indent=2, default=str).encode()


def _identity(citizen: Citizen) -> dict[str, Any]:
    return {
        "nom_naissance": citizen.nom_naissance,
        "prenoms": citizen.prenoms,
        "date_naissance": citizen.date_naissance,
        "sexe": citizen.sexe,
        "code_cog_lieu_naissance": citizen.code_cog_lieu_naissance,
        "lieu_naissance": place_name(citizen.code_cog_lieu_naissance) if citizen.code_cog_lieu_naissance else None,
        "email": citizen.email,
        "notification": citizen.notify,
        "fournisseur_identite": citizen.issuer or "demo",
        "cree_le": citizen.created_at,
        "identite_effacee_le": citizen.identity_erased_at,
        "reference_dans_le_journal": citizen.ref,
    }


@require_GET
@never_cache
@citizen_required
def archive(request: HttpRequest) -> HttpResponse:
    """Everything held about the citizen, as one ZIP archive."""
    citizen = required_citizen(request)
    consents = list(consents_for_citizen(citizen=citizen))
    events = events_for_citizen(citizen_ref=citizen.ref, limit=ARCHIVE_EVENTS_MAX)
    objections = Objection.objects.filter(citizen_ref=citizen.ref).order_by("created_at")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive_file:
        archive_file.writestr("LISEZ-MOI.txt", README)
        archive_file.writestr("identite.json", _json(_identity(citizen)))
        archive_file.writestr("consentements.json", _json([consent_receipt(consent=c) for c in consents]))
        for consent in consents:
            if consent.artefact:
                archive_file.writestr(f"consentements/{consent.pk}.jws", consent.artefact)
        archive_file.writestr(
            "historique.json",
            _json(
                [
                    {
                        "id": event.pk,
                        "type": event.type,
                        "date": event.occurred_at,
                        "administration": event.consumer,
                        "fournisseur": event.provider,
                        "attestation": event.attestation_type,
                        "champs": event.fields,
                        "finalite": event.purpose,
                        "consentement": event.consent_id,
                        "scelle": getattr(event, "leaf_index", None) is not None,
                    }
                    for event in events
                ]
            ),
        )
        sealed = [event for event in events if getattr(event, "leaf_index", None) is not None]
        for event in sealed[:ARCHIVE_PROOFS_MAX]:
            try:
                bundle = proof_bundle(event_id=event.pk, citizen_ref=citizen.ref)
            except NotFound:
                continue
            archive_file.writestr(f"preuves/{event.pk}.json", _json(bundle))
        archive_file.writestr(
            "signalements.json",
            _json(
                [
                    {
                        "id": o.pk,
                        "evenement": o.event_id,
                        "texte": o.text,
                        "etat": o.status,
                        "reponse": o.answer,
                        "ouvert_le": o.created_at,
                        "repondu_le": o.answered_at,
                        "clos_le": o.closed_at,
                    }
                    for o in objections
                ]
            ),
        )
        archive_file.writestr("cle-publique-du-journal.txt", log_verifier_key() + "\n")
    response = HttpResponse(buffer.getvalue(), content_type="application/zip")
    day = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="mes-donnees-{day}.zip"'
    return response


@require_GET
@never_cache
@citizen_required
def my_data(request: HttpRequest) -> HttpResponse:
    citizen = required_citizen(request)
    context = {"title": _("My data"), "citizen": citizen, "identity": identity_lines(citizen)}
    return render(request, "consent/my_data.html", context)


@require_GET
@never_cache
@citizen_required
@not_found_as_404
def receipt_page(request: HttpRequest, consent_id: uuid.UUID) -> HttpResponse:
    """The receipt in words, to read or print, beside its JSON."""
    consent = consent_get_for_citizen(citizen=required_citizen(request), consent_id=consent_id)
    context = {
        "title": _("Receipt of my consent"),
        "consent": consent,
        "terms": terms_for_consent(consent),
        "purpose": purpose_of(consent),
        "status_sentence": status_sentence(consent),
        "printed_at": timezone.localtime(),
    }
    return render(request, "consent/receipt.html", context)


@require_GET
@never_cache
@citizen_required
@not_found_as_404
def proof_verification(request: HttpRequest, event_id: int) -> HttpResponse:
    """The event's proof, checked here step by step against the log's published key."""
    if event_id >= 2**63:
        raise Http404
    bundle = proof_bundle(event_id=event_id, citizen_ref=required_citizen(request).ref)
    key = log_verifier_key()
    check = proof_check(bundle, key)
    context = {
        "title": _("Checking a proof"),
        "check": check,
        "event_id": event_id,
        "key": key,
        # The steps the browser checks again (consent/static/consent/proof-check.js), in words.
        "step_texts": [
            ("fingerprint", _("The event's fingerprint is computed from its content.")),
            ("signature", _("The log's checkpoint carries a valid signature of the log's public key.")),
            ("size", _("The event's place lies within the signed log.")),
            ("path", _("The path of hashes leads from the event's fingerprint to the signed root.")),
        ],
    }
    return render(request, "consent/proof_check.html", context)
