from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone
from django.utils.translation import pgettext_lazy


class EventType(models.TextChoices):
    """What happened, as the trail names it (the code) and as people read it (the label, FR/EN)."""

    CONSENT_REQUESTED = "consent.requested", pgettext_lazy("an audit event", "Consent requested")
    CONSENT_APPROVED = "consent.approved", pgettext_lazy("an audit event", "Consent given")
    CONSENT_REJECTED = "consent.rejected", pgettext_lazy("an audit event", "Consent refused")
    CONSENT_PAUSED = "consent.paused", pgettext_lazy("an audit event", "Consent paused")
    CONSENT_RESUMED = "consent.resumed", pgettext_lazy("an audit event", "Consent resumed")
    CONSENT_REVOKED = "consent.revoked", pgettext_lazy("an audit event", "Consent withdrawn")
    CONSENT_EXPIRED = "consent.expired", pgettext_lazy("an audit event", "Consent expired")
    # A pending request became a citizen's: the first to open its link, the person it names on
    # opening it, or the person who entered its one-time code (detail: by link | identity | code).
    CONSENT_BOUND = "consent.bound", pgettext_lazy("an audit event", "Consent request tied to a person")
    EXCHANGE_SUCCEEDED = "exchange.succeeded", pgettext_lazy("an audit event", "Exchange succeeded")
    EXCHANGE_DENIED = "exchange.denied", pgettext_lazy("an audit event", "Exchange refused")
    EXCHANGE_FAILED = "exchange.failed", pgettext_lazy("an audit event", "Exchange failed")
    # The consumer collected an asynchronous exchange's result (once; it is wiped then).
    EXCHANGE_COLLECTED = "exchange.collected", pgettext_lazy("an audit event", "Exchange result collected")
    CITIZEN_PREVIEWED = "citizen.previewed", pgettext_lazy("an audit event", "Data previewed by the person")
    # A login through an OpenID provider refused (detail: the reason, the provider); no identity.
    CITIZEN_LOGIN_FAILED = "citizen.login_failed", pgettext_lazy("an audit event", "A person's login refused")
    # The citizen's pivot identity erased once no session or consent needed it any longer.
    CITIZEN_IDENTITY_ERASED = "citizen.identity_erased", pgettext_lazy("an audit event", "A person's identity erased")
    # The citizen chose how they are told of accesses (detail: the choice; never the address).
    CITIZEN_NOTIFICATIONS_SET = (
        "citizen.notifications_set",
        pgettext_lazy("an audit event", "A person's notification choice set"),
    )
    AGENT_LOGIN_FAILED = "agent.login_failed", pgettext_lazy("an audit event", "An agent's login refused")
    HABILITATION_DRAFTED = "habilitation.drafted", pgettext_lazy("an audit event", "Habilitation drafted")
    HABILITATION_SUBMITTED = "habilitation.submitted", pgettext_lazy("an audit event", "Habilitation submitted")
    HABILITATION_CHANGES_REQUESTED = (
        "habilitation.changes_requested",
        pgettext_lazy("an audit event", "Habilitation changes requested"),
    )
    HABILITATION_APPROVED = "habilitation.approved", pgettext_lazy("an audit event", "Habilitation approved")
    HABILITATION_REFUSED = "habilitation.refused", pgettext_lazy("an audit event", "Habilitation refused")
    HABILITATION_REVOKED = "habilitation.revoked", pgettext_lazy("an audit event", "Habilitation revoked")
    HABILITATION_EXTENSION_REQUESTED = (
        "habilitation.extension_requested",
        pgettext_lazy("an audit event", "Habilitation extension requested"),
    )
    HABILITATION_EXTENDED = "habilitation.extended", pgettext_lazy("an audit event", "Habilitation extended")
    HABILITATION_EXTENSION_REFUSED = (
        "habilitation.extension_refused",
        pgettext_lazy("an audit event", "Habilitation extension refused"),
    )
    # An organisation's OAuth client: created, its secret rotated, its redirect URIs changed, disabled.
    CLIENT_CREATED = "client.created", pgettext_lazy("an audit event", "API client created")
    CLIENT_SECRET_ROTATED = "client.secret_rotated", pgettext_lazy("an audit event", "API client secret renewed")
    CLIENT_UPDATED = "client.updated", pgettext_lazy("an audit event", "API client changed")
    CLIENT_DISABLED = "client.disabled", pgettext_lazy("an audit event", "API client disabled")
    # An organisation's webhook endpoint set or removed, its signing key rotated, a delivery sent again.
    WEBHOOK_ENDPOINT_SET = "webhook.endpoint_set", pgettext_lazy("an audit event", "Webhook address set")
    WEBHOOK_KEY_ROTATED = "webhook.key_rotated", pgettext_lazy("an audit event", "Webhook key renewed")
    WEBHOOK_REDELIVERED = "webhook.redelivered", pgettext_lazy("an audit event", "Webhook sent again")
    # A provider withdrew one of its attestation types from the catalogue.
    ATTESTATION_TYPE_WITHDRAWN = (
        "attestation_type.withdrawn",
        pgettext_lazy("an audit event", "Attestation type withdrawn"),
    )
    TOKEN_ISSUED = "token.issued", pgettext_lazy("an audit event", "Access token issued")
    TOKEN_REVOKED = "token.revoked", pgettext_lazy("an audit event", "Access token revoked")
    # A client assertion, DPoP proof, pushed request or authorization detail refused (detail: the
    # reason and the endpoint; never the rejected value).
    OAUTH_REFUSED = "oauth.refused", pgettext_lazy("an audit event", "OAuth request refused")
    # An agent's role in an organisation (administrator, habilitation manager, auditor).
    ROLE_GRANTED = "role.granted", pgettext_lazy("an audit event", "Role granted")
    ROLE_REVOKED = "role.revoked", pgettext_lazy("an audit event", "Role withdrawn")
    # An administrator invited an email address to their organisation (detail: the roles, no address).
    AGENT_INVITED = "agent.invited", pgettext_lazy("an audit event", "Agent invited")
    AUDITOR_SEARCHED = "auditor.searched", pgettext_lazy("an audit event", "Auditor's search")
    AUDITOR_EXPORTED = "auditor.exported", pgettext_lazy("an audit event", "Auditor's export")
    # A full leaf partition exported, verified, stored and detached (detail: where, its SHA-256).
    AUDIT_ARCHIVED = "audit.archived", pgettext_lazy("an audit event", "Part of the trail archived")
    # A month of events detached from the live table once all of it was in archives (detail: which).
    AUDIT_EVENTS_DETACHED = "audit.events_detached", pgettext_lazy("an audit event", "Archived events detached")
    # A citizen's "I don't recognise this access", and its case in the auditor console.
    OBJECTION_OPENED = "objection.opened", pgettext_lazy("an audit event", "Objection opened")
    OBJECTION_ANSWERED = "objection.answered", pgettext_lazy("an audit event", "Objection answered")
    OBJECTION_CLOSED = "objection.closed", pgettext_lazy("an audit event", "Objection closed")
    # Whether a person represents a company, as the companies register answered at the time they
    # acted (detail: listed or not); the company is the subject reference, the person the actor.
    REPRESENTATION_CHECKED = (
        "representation.checked",
        pgettext_lazy("an audit event", "Legal representative checked in the register"),
    )
    # A mandate to act for a company or a person: granted (a delegation, or a legal mandate an
    # operator recorded), accepted by its agent, revoked, or lapsed (its grantor no longer holds
    # what it was carved from).
    MANDATE_GRANTED = "mandate.granted", pgettext_lazy("an audit event", "Mandate granted")
    MANDATE_ACCEPTED = "mandate.accepted", pgettext_lazy("an audit event", "Mandate accepted")
    MANDATE_REVOKED = "mandate.revoked", pgettext_lazy("an audit event", "Mandate withdrawn")
    MANDATE_LAPSED = "mandate.lapsed", pgettext_lazy("an audit event", "Mandate lapsed")


class ActorKind(models.TextChoices):
    """Who acted, as the trail names it (the code) and as the console reads it (the label, FR/EN)."""

    CITIZEN = "citizen", pgettext_lazy("who acted", "Person")
    CONSUMER = "consumer", pgettext_lazy("who acted", "Administration asking (its software)")
    PROVIDER = "provider", pgettext_lazy("who acted", "Administration holding the data")
    OPERATOR = "operator", pgettext_lazy("who acted", "Gateway operator")
    # An administration's agent, logged in (ProConnect): their account's id, never their name.
    AGENT = "agent", pgettext_lazy("who acted", "Administration's agent")
    AUDITOR = "auditor", pgettext_lazy("who acted", "Auditor")
    SYSTEM = "system", pgettext_lazy("who acted", "The gateway itself")


class AuditEvent(models.Model):
    """One recorded action. Append-only: the database refuses UPDATE, DELETE and TRUNCATE.

    Identifiers only, never payloads or tokens: the citizen appears as a keyed hash, organisations
    by SIRET, attestation types by slug.
    """

    type = models.CharField(max_length=64, choices=EventType.choices)
    occurred_at = models.DateTimeField(default=timezone.now)
    actor_kind = models.CharField(max_length=16, choices=ActorKind.choices)
    # A SIRET, an OAuth client id, an agent's account id, a staff username or "system"; never a
    # citizen's identity.
    actor = models.CharField(max_length=200)
    citizen_ref = models.CharField(max_length=64, blank=True)
    consumer = models.CharField(max_length=14, blank=True)
    provider = models.CharField(max_length=14, blank=True)
    attestation_type = models.CharField(max_length=100, blank=True)
    fields = models.JSONField(default=list, blank=True)
    purpose = models.CharField(max_length=100, blank=True)
    consent_id = models.UUIDField(null=True, blank=True)
    exchange_id = models.UUIDField(null=True, blank=True)
    correlation_id = models.CharField(max_length=64, blank=True)
    # Small facts about the action (a reason code, a status), never personal data.
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["citizen_ref", "-id"], name="audit_event_citizen"),
            models.Index(fields=["consent_id"], name="audit_event_consent"),
            models.Index(fields=["occurred_at"], name="audit_event_time"),
            models.Index(fields=["type", "occurred_at"], name="audit_event_type_time"),
        ]

    def __str__(self) -> str:
        return f"{self.type} #{self.pk}"


class LogLeaf(models.Model):
    """Leaf `index` of the Merkle log: the event the sealer put there and its RFC 9162 leaf hash.

    Level 0 of the tree lives here only (LogNode holds levels >= 1), so each leaf hash is stored
    once. Append-only like the events.
    """

    index = models.BigIntegerField(primary_key=True)
    # No database constraint: the leaves are partitioned by index, the events by month, and
    # PostgreSQL's unique keys and foreign keys must then contain the partition keys (migration 0008).
    event = models.OneToOneField(AuditEvent, on_delete=models.PROTECT, related_name="leaf", db_constraint=False)
    hash = models.BinaryField(max_length=32)

    def __str__(self) -> str:
        return f"leaf {self.index}"


class LogNode(models.Model):
    """A complete interior node: the perfect subtree of 2**level leaves from index * 2**level.

    Written once, when the batch that completes it is sealed; never changes afterwards.
    """

    level = models.PositiveSmallIntegerField()
    index = models.BigIntegerField()
    hash = models.BinaryField(max_length=32)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["level", "index"], name="audit_lognode_key")]

    def __str__(self) -> str:
        return f"node ({self.level}, {self.index})"


class Checkpoint(models.Model):
    """A signed tree head (C2SP tlog-checkpoint in a signed note), one per sealed batch.

    `tree_size` is unique: two sealers can never both publish a root for the same size.
    """

    tree_size = models.BigIntegerField(unique=True)
    root = models.BinaryField(max_length=32)
    note = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size}"


class Objection(models.Model):
    """A citizen does not recognise an event of their history: a case for the auditors, who answer
    it (the citizen reads the answer) and close it; the consumer's DPO is told when it opens.

    The citizen's words stay here, out of the trail: its events name the case, never the text."""

    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("an objection", "Open")
        ANSWERED = "answered", pgettext_lazy("an objection", "Answered")
        CLOSED = "closed", pgettext_lazy("an objection", "Closed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # No database constraint: the events table is partitioned (by month, on PostgreSQL), so its id
    # alone is not a unique key another table can reference; events are never deleted anyway.
    event = models.ForeignKey(AuditEvent, on_delete=models.PROTECT, related_name="objections", db_constraint=False)
    citizen_ref = models.CharField(max_length=64)
    # The SIRET of the administration the event names (whose DPO is told).
    consumer = models.CharField(max_length=14, blank=True)
    text = models.TextField()
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.OPEN)
    answer = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    answered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    # Outbox: when the consumer's DPO was told (None: not yet; a beat sweep retries).
    dpo_told_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["event", "citizen_ref"], name="objection_once_per_event"),
        ]
        indexes = [models.Index(fields=["citizen_ref", "-created_at"], name="objection_citizen")]

    def __str__(self) -> str:
        return f"objection {self.pk} ({self.status})"
