"""A citizen does not recognise an access: the case goes to the auditors (audit.Objection) and the
administration's data protection officer is told by e-mail, from an outbox (`dpo_told_at`)."""

from __future__ import annotations

import datetime as dt
import logging
import smtplib
import uuid

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from audit.models import Objection
from audit.services import objection_open
from consent.models import Citizen
from consent.services.trail import citizen_actor
from core.tasks import enqueue_on_commit
from providers.models import AttestationType, Organisation

logger = logging.getLogger(__name__)

# A DPO not told yet is tried again by the beat after this long (the first try follows the commit).
DPO_RETRY_AFTER = dt.timedelta(minutes=5)


@transaction.atomic
def objection_report(*, citizen: Citizen, event_id: int, text: str) -> Objection:
    """The citizen's "I don't recognise this access" about one event of their own history."""
    objection = objection_open(event_id=event_id, citizen_ref=citizen.ref, text=text, actor=citizen_actor(citizen))
    if objection.dpo_told_at is None:
        enqueue_on_commit("consent.tasks.objection_dpo_tell", str(objection.pk))
    return objection


def objections_dpo_due(*, now: dt.datetime | None = None) -> list[uuid.UUID]:
    now = now or timezone.now()
    return list(
        Objection.objects.filter(dpo_told_at__isnull=True, created_at__lte=now - DPO_RETRY_AFTER)
        .exclude(consumer="")
        .values_list("pk", flat=True)[:200]
    )


def objection_dpo_tell(*, objection_id: uuid.UUID) -> bool:
    """E-mails the DPO of the administration the event names, once (a told case is left alone).
    True when told now."""
    objection = Objection.objects.select_related("event").filter(pk=objection_id, dpo_told_at__isnull=True).first()
    if objection is None:
        return False
    organisation = Organisation.objects.filter(siret=objection.consumer).first()
    if organisation is None or not organisation.dpo_email:
        logger.warning("objection %s: no DPO address for the organisation concerned", objection.pk)
        return False
    try:
        objection_dpo_email(objection=objection, organisation=organisation).send()
    except (smtplib.SMTPException, OSError) as exc:
        logger.warning("objection %s: DPO e-mail not sent (%s); retried later", objection.pk, type(exc).__name__)
        return False
    return bool(Objection.objects.filter(pk=objection.pk, dpo_told_at__isnull=True).update(dpo_told_at=timezone.now()))


def objection_dpo_email(*, objection: Objection, organisation: Organisation) -> EmailMessage:
    event = objection.event
    attestation_type = AttestationType.objects.filter(slug=event.attestation_type).first()
    with translation.override(settings.LANGUAGE_CODE):
        lines = [
            _("Hello,"),
            _(
                "A person does not recognise an access to their data by %(organisation)s through the data exchange "
                "gateway, and has asked the gateway's auditors to look into it."
            )
            % {"organisation": organisation.name},
            "\n".join(
                [
                    _("Case: %(case)s") % {"case": objection.pk},
                    _("Access: %(when)s, %(what)s (event %(event)s of the trail, consent %(consent)s)")
                    % {
                        "when": date_format(timezone.localtime(event.occurred_at), "DATETIME_FORMAT"),
                        "what": attestation_type.title_fr if attestation_type else event.attestation_type,
                        "event": event.pk,
                        "consent": event.consent_id or "—",
                    },
                ]
            ),
            _("What the person wrote:") + "\n" + objection.text,
            _(
                "Please check this access against your records (the purpose it served, who in your organisation "
                "asked for it) and send your findings to the gateway's auditors, quoting the case number."
            ),
        ]
        # In the same language as the body: outside the override it would be the worker's.
        subject = _("Case %(case)s: an access by your organisation is questioned") % {"case": str(objection.pk)[:8]}
    return EmailMessage(subject=subject, body="\n\n".join(lines), to=[organisation.dpo_email])
