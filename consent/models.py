from __future__ import annotations

import uuid

from django.db import models
from django.db.models.functions import Substr
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from audit.refs import citizen_ref, company_ref
from core.fields import EncryptedDateField, EncryptedTextField
from providers.models import AttestationType, EidasLevel, Habilitation, Organisation, validate_siret


class Citizen(models.Model):
    """The person behind a login: their identity provider's (issuer, subject), and the pivot
    identity providers find them by.

    The pivot identity is personal data kept only while it serves: encrypted at rest (core.fields),
    refreshed at each login, and erased (`identity_erased_at`) once the citizen has neither a
    session nor a consent that exchanges may still use (consent.services.citizens)."""

    class Sex(models.TextChoices):
        FEMALE = "F", _("Female")
        MALE = "M", _("Male")

    class Notify(models.TextChoices):
        EACH = "each", _("An e-mail at each access to my data")
        DAILY = "daily", _("One e-mail a day, listing that day's accesses")
        NEVER = "never", _("No e-mail (my history still lists every access)")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The OpenID provider's issuer identifier; empty for the demo login (and citizens recorded
    # before OpenID Connect).
    issuer = models.CharField(max_length=255, blank=True, default="")
    # The provider's stable subject identifier ("sub"), pairwise at FranceConnect.
    subject = models.CharField(max_length=255)
    nom_naissance = EncryptedTextField(null=True, blank=True)
    prenoms = EncryptedTextField(null=True, blank=True)
    date_naissance = EncryptedDateField(null=True, blank=True)
    sexe = EncryptedTextField(null=True, blank=True, choices=Sex.choices)
    code_cog_lieu_naissance = EncryptedTextField(null=True, blank=True)
    # From the identity provider at login, changeable on the notification preferences page.
    email = EncryptedTextField(null=True, blank=True)
    notify = models.CharField(max_length=8, choices=Notify.choices, default=Notify.EACH)
    # The language of the pages they last logged in or chose their notifications with: their
    # e-mails are written in it (empty: the gateway's language).
    language = models.CharField(max_length=8, blank=True, default="")
    identity_erased_at = models.DateTimeField(null=True, blank=True)
    # Until when a session of theirs may still be alive (the idle timeout from their last visit);
    # their identity is kept at least until then.
    session_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="citizen_issuer_subject")]
        indexes = [
            # The erasure sweep's query: identities still held, by how long a session may last.
            models.Index(
                fields=["session_until"], condition=models.Q(identity_erased_at__isnull=True), name="citizen_held"
            ),
        ]

    def __str__(self) -> str:
        # Never the identity: this string can end up in logs and admin history.
        return f"Citizen {self.pk}"

    @property
    def ref(self) -> str:
        return citizen_ref(self.subject, self.issuer)

    @property
    def has_identity(self) -> bool:
        return self.identity_erased_at is None and self.nom_naissance is not None

    @property
    def display_name(self) -> str:
        if not self.has_identity:
            return ""
        return f"{(self.prenoms or '').split(' ')[0]} {self.nom_naissance}"


class Company(models.Model):
    """A company that may be the subject of consents: the legal unit (SIREN) and the establishment
    a consumer names (SIRET, Luhn-checked like an Organisation's). Known to the gateway from the
    companies register (the demo register in demo mode, see consent.demo); a closed company is
    the subject of no new request."""

    siren = models.CharField(max_length=9, db_index=True)
    siret = models.CharField(max_length=14, unique=True, validators=[validate_siret])
    name = models.CharField(max_length=200)
    closed = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name_plural = "companies"
        constraints = [
            # A SIRET is the SIREN of its legal unit followed by the establishment's number.
            models.CheckConstraint(condition=models.Q(siren=Substr("siret", 1, 9)), name="company_siren_of_siret"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.siret})"

    @property
    def ref(self) -> str:
        return company_ref(self.siren)


class Ground(models.TextChoices):
    """On what ground a person acted on a consent (consent.rules.acting_ground)."""

    SUBJECT = "subject", _("For themselves")
    LEGAL_REPRESENTATIVE = "legal_representative", _("As the company's legal representative")
    DELEGATE = "delegate", _("Under a delegation")
    LEGAL_MANDATE = "legal_mandate", _("Under a legal mandate")


class Consent(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("a consent", "Pending")
        ACTIVE = "active", pgettext_lazy("a consent", "Active")
        PAUSED = "paused", pgettext_lazy("a consent", "Paused")
        REJECTED = "rejected", pgettext_lazy("a consent", "Rejected")
        REVOKED = "revoked", pgettext_lazy("a consent", "Withdrawn")
        EXPIRED = "expired", pgettext_lazy("a consent", "Expired")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Null while pending until the first logged-in citizen allowed to decide opens the request
    # (consent.rules.may_decide); then only they may decide it.
    citizen = models.ForeignKey(Citizen, on_delete=models.PROTECT, null=True, blank=True, related_name="consents")
    # A company subject instead of a citizen (then `citizen` stays empty).
    company = models.ForeignKey(Company, on_delete=models.PROTECT, null=True, blank=True, related_name="consents")
    # Who decided (approved or rejected), and on what ground: the subject themselves, a company's
    # legal representative (with the register check that said so), or a mandate's agent.
    actor = models.ForeignKey(Citizen, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    ground = models.CharField(max_length=24, choices=Ground.choices, blank=True)
    mandate = models.ForeignKey("Mandate", on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    register_check = models.ForeignKey(
        "RegisterCheck", on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    # The person a request is addressed to (named by the consumer, or the first to open it): keyed
    # hash of their pivot identity hash (consent.rules.addressee_ref); empty until then.
    addressee = models.CharField(max_length=64, blank=True, default="")
    # A request addressed by a one-time code the consumer gave the person by its own channel: the
    # keyed hash of the code (consent.rules.one_time_code_ref), never the code; emptied once the
    # code is entered and the request bound to whoever entered it.
    code_ref = models.CharField(max_length=64, blank=True, default="")
    # A renewal request names the consent it would follow (consent.services.requests).
    renews = models.ForeignKey("self", on_delete=models.SET_NULL, null=True, blank=True, related_name="renewals")
    consumer = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="consents")
    client = models.ForeignKey(
        "oauth2_provider.Application", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    purpose_code = models.CharField(max_length=100)
    purpose_text = models.TextField()
    duration_days = models.PositiveIntegerField()
    valid_from = models.DateTimeField(null=True, blank=True)
    valid_until = models.DateTimeField(null=True, blank=True)
    max_uses = models.PositiveIntegerField(null=True, blank=True)
    uses = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    status_reason = models.CharField(max_length=200, blank=True)
    return_url = models.URLField(blank=True)
    reference = models.CharField(max_length=100, blank=True)
    # The login level the citizen had when deciding; exchanges re-check it against each type.
    eidas_level = models.CharField(max_length=8, choices=EidasLevel.choices, blank=True)
    request_expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)
    # Compact JWS over the consent's terms, signed on approval.
    artefact = models.TextField(blank=True)
    # The consumer's Idempotency-Key for the creating POST, scoped per OAuth client, and a hash of
    # the request it came with: a replay with another body is refused, not silently merged.
    idempotency_key = models.CharField(max_length=200, blank=True)
    request_fingerprint = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["consumer", "status", "-created_at"], name="consent_consumer_status"),
            models.Index(fields=["citizen", "status"], name="consent_citizen_status"),
            # A citizen's dashboard: the requests addressed to the person they are, not opened yet.
            models.Index(
                fields=["addressee"],
                condition=models.Q(citizen__isnull=True) & ~models.Q(addressee=""),
                name="consent_addressed_unbound",
            ),
            # "I have a code": the request waiting for the code entered.
            models.Index(fields=["code_ref"], condition=~models.Q(code_ref=""), name="consent_awaiting_code"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(max_uses__isnull=True) | models.Q(max_uses__gte=1), name="consent_max_uses_positive"
            ),
            models.UniqueConstraint(
                fields=["client", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="consent_idempotency_key_per_client",
            ),
            models.CheckConstraint(
                condition=models.Q(company__isnull=True) | models.Q(citizen__isnull=True),
                name="consent_one_subject",
            ),
        ]

    def __str__(self) -> str:
        return f"Consent {self.pk} ({self.status})"

    @property
    def subject_ref(self) -> str:
        """The subject's reference in the trail: the company's, else the citizen's ("" unbound)."""
        if self.company is not None:
            return self.company.ref
        return self.citizen.ref if self.citizen is not None else ""


class RegisterCheck(models.Model):
    """One live answer of the companies register about one person and one company, at the time
    they acted for it: whether its mandataires sociaux listed them (and in which office)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    company = models.ForeignKey(Company, on_delete=models.PROTECT, related_name="register_checks")
    citizen = models.ForeignKey(Citizen, on_delete=models.PROTECT, related_name="register_checks")
    listed = models.BooleanField()
    office = models.CharField(max_length=100, blank=True)
    checked_at = models.DateTimeField(default=timezone.now)

    class Meta:
        indexes = [models.Index(fields=["citizen", "company", "-checked_at"], name="register_check_latest")]

    def __str__(self) -> str:
        return f"register check {self.pk} ({'listed' if self.listed else 'not listed'})"


class Mandate(models.Model):
    """A person (the agent) may act for a company or another person (the principal), for some
    attestation types and actions, from `valid_from` until `valid_until`.

    A delegation is granted by a company's legal representative, or carved by a delegate from a
    mandate they hold (`parent`: never more than it, never in a loop); a legal mandate (a guardian
    for an adult, a parent for a minor) is recorded by an operator with its legal source. The
    agent of a delegation is whoever accepts its one-time invitation (`invitation_hash`)."""

    class Kind(models.TextChoices):
        DELEGATION = "delegation", _("Delegation")
        LEGAL = "legal", _("Legal mandate")

    class Action(models.TextChoices):
        APPROVE = "approve", _("Approve or refuse requests")
        REVOKE = "revoke", _("Withdraw consents")
        READ_HISTORY = "read_history", _("Read the history of accesses")

    class Status(models.TextChoices):
        INVITED = "invited", pgettext_lazy("a mandate", "Waiting for its holder")
        ACTIVE = "active", pgettext_lazy("a mandate", "In force")
        REVOKED = "revoked", pgettext_lazy("a mandate", "Revoked")
        LAPSED = "lapsed", pgettext_lazy("a mandate", "Lapsed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    principal_company = models.ForeignKey(
        Company, on_delete=models.PROTECT, null=True, blank=True, related_name="mandates"
    )
    principal_citizen = models.ForeignKey(
        Citizen, on_delete=models.PROTECT, null=True, blank=True, related_name="mandates_given"
    )
    agent = models.ForeignKey(Citizen, on_delete=models.PROTECT, null=True, blank=True, related_name="mandates_held")
    attestation_types = models.JSONField(default=list)
    actions = models.JSONField(default=list)
    valid_from = models.DateTimeField(default=timezone.now)
    valid_until = models.DateTimeField()
    granted_by = models.ForeignKey(Citizen, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    parent = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="children")
    legal_source = models.TextField(blank=True)
    invitation_hash = models.CharField(max_length=64, blank=True, db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.INVITED)
    created_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=(models.Q(principal_company__isnull=True) & models.Q(principal_citizen__isnull=False))
                | (models.Q(principal_company__isnull=False) & models.Q(principal_citizen__isnull=True)),
                name="mandate_one_principal",
            ),
            models.CheckConstraint(
                condition=~models.Q(kind="legal") | ~models.Q(legal_source=""), name="mandate_legal_has_source"
            ),
        ]
        indexes = [models.Index(fields=["agent", "status"], name="mandate_agent_status")]

    def __str__(self) -> str:
        return f"Mandate {self.pk} ({self.kind}, {self.status})"

    @property
    def principal_ref(self) -> str:
        if self.principal_company is not None:
            return self.principal_company.ref
        return self.principal_citizen.ref if self.principal_citizen is not None else ""


class ConsentItem(models.Model):
    """One attestation type in a consent, with the fields the citizen agreed to share."""

    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="items")
    attestation_type = models.ForeignKey(AttestationType, on_delete=models.PROTECT, related_name="+")
    habilitation = models.ForeignKey(Habilitation, on_delete=models.PROTECT, related_name="+")
    fields = models.JSONField(default=list)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["consent", "attestation_type"], name="consent_item_unique_type"),
        ]

    def __str__(self) -> str:
        return f"{self.consent_id}:{self.attestation_type_id}"


class TokenBinding(models.Model):
    """An access token issued through the interactive flow is bound to the consent it created."""

    access_token = models.OneToOneField(
        "oauth2_provider.AccessToken", on_delete=models.CASCADE, related_name="consent_binding"
    )
    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="token_bindings")

    def __str__(self) -> str:
        return f"token {self.access_token_id} → consent {self.consent_id}"


class HeldResult(models.Model):
    """An asynchronous exchange's signed result, encrypted, waiting for its consumer to collect it
    (once) until `expires_at`. Held under the consent it was made under, so that ending the consent
    (revoked, paused, expired) drops it in the same transaction: nothing is handed over after."""

    exchange_id = models.UUIDField(primary_key=True)
    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="held_results")
    # AES-256-GCM, the exchange id as associated data (gateway/services/results.py).
    ciphertext = models.BinaryField()
    expires_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="held_result_expiry")]

    def __str__(self) -> str:
        return f"held result of exchange {self.exchange_id}"


class WebhookDelivery(models.Model):
    """Outbox row: one signed notification of one consent change to one organisation.

    Written in the transaction of the change, so a notification exists if and only if the change
    committed. Rows are delivered at least once (receivers deduplicate on the `webhook-id` header,
    which is this row's `id`).
    """

    class Event(models.TextChoices):
        APPROVED = "consent.approved"
        REJECTED = "consent.rejected"
        PAUSED = "consent.paused"
        RESUMED = "consent.resumed"
        REVOKED = "consent.revoked"
        EXPIRED = "consent.expired"

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("a webhook delivery", "Pending")
        DELIVERED = "delivered", pgettext_lazy("a webhook delivery", "Delivered")
        FAILED = "failed", pgettext_lazy("a webhook delivery", "Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="webhook_deliveries")
    event_type = models.CharField(max_length=32, choices=Event.choices)
    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, related_name="webhook_deliveries")
    # Exactly what is sent (Standard Webhooks `type`, `timestamp`, `data`): consent id, status and
    # version, the consumer's and the recipient's SIRET; never the citizen.
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # A stable code (http_status, timeout, refused…), never the receiver's answer.
    last_error_code = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            # The retry sweep's query; delivered and failed rows stay out of the index.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="webhook_delivery_due",
            ),
            models.Index(fields=["consent", "-created_at"], name="webhook_delivery_consent"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.organisation_id} ({self.status})"


class AccessNotice(models.Model):
    """Outbox row: one access to a citizen's data (an `exchange.succeeded` event of the trail) to
    tell them of, by its own e-mail or in the day's digest, as they chose.

    Written from committed events by a beat sweep (consent.services.notices), never on the
    exchange's path; sent at least once by Celery, retried with backoff. It names the event only:
    the e-mail says who obtained what, when and why, never the attestation's values."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("an e-mail", "Pending")
        SENT = "sent", pgettext_lazy("an e-mail", "Sent")
        FAILED = "failed", pgettext_lazy("an e-mail", "Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    citizen = models.ForeignKey(Citizen, on_delete=models.CASCADE, related_name="access_notices")
    event_id = models.BigIntegerField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # A stable code (smtp, no_address…), never the server's answer.
    last_error_code = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["citizen", "event_id"], name="access_notice_once_per_event"),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], condition=models.Q(status="pending"), name="access_notice_due"),
        ]

    def __str__(self) -> str:
        return f"access notice {self.pk} ({self.status})"
