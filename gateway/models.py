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
    # Asynchronous exchanges only: until when the worker running it holds it (None: nobody yet).
    # A worker killed mid-run leaves a claim that expires; the sweep then runs the exchange again.
    claimed_until = models.DateTimeField(null=True, blank=True)
    idempotency_key = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["consumer", "-created_at"], name="exchange_consumer_time"),
            models.Index(
                fields=["created_at"], name="exchange_pending", condition=models.Q(status="pending", is_async=True)
            ),
        ]
        constraints = [
            # A retried POST /api/v1/exchanges with the same Idempotency-Key finds the first one.
            models.UniqueConstraint(
                fields=["consumer", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="exchange_idempotency_key_per_consumer",
            ),
        ]

    def __str__(self) -> str:
        return f"Exchange {self.pk} ({self.status})"


class AuthorizationCode(models.Model):
    """What the gateway keeps of an authorization code once django-oauth-toolkit deletes its Grant.

    Enough to recognise a second redemption and revoke the tokens the first one obtained (RFC 6749
    §4.1.2, ASVS 10.4.2), and to bind those tokens to the consent the citizen gave on the consent
    screen. Only hashes: neither the code nor the tokens are stored here.
    """

    code_sha256 = models.CharField(max_length=64, unique=True)
    application = models.ForeignKey("oauth2_provider.Application", on_delete=models.CASCADE, related_name="+")
    consent = models.ForeignKey(Consent, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    redeemed_at = models.DateTimeField(null=True, blank=True)
    # SHA-256 checksums of the access tokens issued from this code (DOT's token_checksum).
    token_checksums = models.JSONField(default=list, blank=True)
    # RFC 9449 §10: the thumbprint of the DPoP key the authorization request named (`dpop_jkt`);
    # only a token request proving that key may redeem the code.
    dpop_jkt = models.CharField(max_length=64, blank=True)
    # RFC 9396: the authorization details the citizen granted, echoed with the tokens.
    authorization_details = models.JSONField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["created_at"], name="authorization_code_time")]

    def __str__(self) -> str:
        return f"AuthorizationCode #{self.pk}"


class DpopBinding(models.Model):
    """An access token bound to a DPoP key (RFC 9449 §6): the key's RFC 7638 thumbprint, the
    `cnf.jkt` of introspection. Every use of the token must come with a proof signed by that key."""

    access_token = models.OneToOneField(
        "oauth2_provider.AccessToken", on_delete=models.CASCADE, related_name="dpop_binding"
    )
    jkt = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"DpopBinding #{self.pk}"


class PushedAuthorizationRequest(models.Model):
    """An authorization request a client pushed (RFC 9126): its parameters, kept until its
    `request_uri` is used once at the authorization endpoint or expires. Only the request_uri's
    hash is stored."""

    request_uri_sha256 = models.CharField(max_length=64, unique=True)
    application = models.ForeignKey("oauth2_provider.Application", on_delete=models.CASCADE, related_name="+")
    params = models.JSONField(default=dict)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["expires_at"], name="pushed_request_expiry")]

    def __str__(self) -> str:
        return f"PushedAuthorizationRequest #{self.pk}"


class GrantedDetails(models.Model):
    """The authorization details (RFC 9396) an access token was granted: what introspection echoes."""

    access_token = models.OneToOneField(
        "oauth2_provider.AccessToken", on_delete=models.CASCADE, related_name="granted_details"
    )
    details = models.JSONField()

    def __str__(self) -> str:
        return f"GrantedDetails #{self.pk}"
