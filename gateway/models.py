from __future__ import annotations

import uuid

from django.db import models
from django.utils import timezone

from consent.models import Consent
from providers.models import AttestationType, Organisation


class Exchange(models.Model):
    """One fetch of one attestation under one consent. The document itself is never stored."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SUCCEEDED = "succeeded"
        DENIED = "denied"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    consumer = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    provider = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="+")
    attestation_type = models.ForeignKey(AttestationType, on_delete=models.PROTECT, related_name="+")
    consent = models.ForeignKey(Consent, on_delete=models.PROTECT, null=True, blank=True, related_name="exchanges")
    client_id = models.CharField(max_length=100)
    fields = models.JSONField(default=list)
    purpose_code = models.CharField(max_length=100, blank=True)
    eidas_level = models.CharField(max_length=8, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error_code = models.CharField(max_length=64, blank=True)
    is_async = models.BooleanField(default=False)
    created_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    provider_duration_ms = models.PositiveIntegerField(null=True, blank=True)
    document_sha256 = models.CharField(max_length=64, blank=True)
    # Asynchronous exchanges only: the signed result, encrypted, until collected or expired.
    result_ciphertext = models.BinaryField(null=True, blank=True)
    result_expires_at = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["consumer", "-created_at"], name="exchange_consumer_time")]

    def __str__(self) -> str:
        return f"Exchange {self.pk} ({self.status})"
