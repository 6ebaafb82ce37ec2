from __future__ import annotations

import re
import uuid
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from providers.siret import siret_is_valid

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*\.[a-z0-9]+(?:-[a-z0-9]+)*$")


def validate_siret(value: str) -> None:
    if not siret_is_valid(value):
        raise ValidationError(
            "Le SIRET doit comporter 14 chiffres et une clé de contrôle valide. / "
            "A SIRET is 14 digits with a valid check digit.",
            code="invalid_siret",
        )


def validate_type_slug(value: str) -> None:
    if not SLUG_RE.match(value):
        raise ValidationError(
            "Le slug est de la forme <détenteur>.<nom> en minuscules. / A slug reads <holder>.<name> in lower case.",
            code="invalid_slug",
        )


LOOPBACK_HOSTS = {"localhost", "127.0.0.1", "::1"}


def validate_webhook_url(value: str) -> None:
    """https only; plain http is accepted for a loopback receiver in demo mode (local testing)."""
    parts = urlsplit(value)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    loopback_in_demo = scheme == "http" and settings.DEMO_MODE and host in LOOPBACK_HOSTS
    if scheme != "https" and not loopback_in_demo:
        raise ValidationError(
            "L'adresse du webhook doit commencer par https://. / The webhook URL must use https.",
            code="webhook_url_not_https",
        )
    if not host or parts.username is not None or parts.password is not None or parts.fragment:
        # Credentials in a URL end up in logs and admin pages; a fragment is never sent.
        raise ValidationError(
            "L'adresse du webhook doit avoir un hôte, sans identifiants ni fragment. / "
            "The webhook URL needs a host, without credentials or fragment.",
            code="webhook_url_invalid",
        )


def url_origin(url: str) -> str | None:
    """The origin of an http(s) URL as RFC 6454 §6.2 writes it (`scheme://host[:port]`, scheme and
    host in lower case, the scheme's default port left out), or None when it has none."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), parts.hostname
    if scheme not in ("http", "https") or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    default_port = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != default_port else "")


def validate_return_url_origins(value: object) -> None:
    """A list of distinct origins (scheme, host and port, no path), https only; plain http is
    accepted for a loopback host in demo mode (a consumer's application on the developer's machine)."""
    if not isinstance(value, list) or not all(isinstance(origin, str) for origin in value):
        raise ValidationError(
            "Une liste d'origines est attendue. / A list of origins is expected.", code="origins_not_a_list"
        )
    errors = []
    for origin in value:
        try:
            parts = urlsplit(origin)
            scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
        except ValueError:
            scheme = host = ""
        canonical = url_origin(origin)
        if not scheme or not host or (scheme in ("http", "https") and canonical is None):
            errors.append(
                ValidationError(
                    f"« {origin} » n'est pas une origine comme https://exemple.fr. / "
                    f"“{origin}” is not an origin such as https://example.fr.",
                    code="origin_invalid",
                )
            )
        elif scheme != "https" and not (scheme == "http" and settings.DEMO_MODE and host in LOOPBACK_HOSTS):
            errors.append(
                ValidationError(
                    f"« {origin} » doit commencer par https://. / “{origin}” must use https.",
                    code="origin_not_https",
                )
            )
        elif canonical != origin:
            errors.append(
                ValidationError(
                    f"« {origin} » n'est pas une origine : écrivez {canonical} (schéma, hôte et port, sans chemin). / "
                    f"“{origin}” is not an origin: write {canonical} (scheme, host and port, no path).",
                    code="origin_not_canonical",
                )
            )
    if len(set(value)) != len(value):
        errors.append(ValidationError("Chaque origine une seule fois. / Each origin once.", code="origin_duplicate"))
    if errors:
        raise ValidationError(errors)


class EidasLevel(models.TextChoices):
    LOW = "eidas1", _("eIDAS low")
    SUBSTANTIAL = "eidas2", _("eIDAS substantial")
    HIGH = "eidas3", _("eIDAS high")

    @classmethod
    def rank(cls, level: str) -> int:
        return {"eidas1": 1, "eidas2": 2, "eidas3": 3}.get(level, 0)


class Organisation(models.Model):
    class Kind(models.TextChoices):
        STATE_SERVICE = "state_service", _("State service")
        LOCAL_AUTHORITY = "local_authority", _("Local authority")
        SOCIAL_SECURITY = "social_security", _("Social security body")
        PUBLIC_OPERATOR = "public_operator", _("Public operator")
        # The gateway's operator or a body supervising it: the only kind whose agents may audit
        # the whole trail (providers.rules.role_allowed).
        SUPERVISORY_BODY = "supervisory_body", _("Gateway operator or supervisory body")

    siret = models.CharField(max_length=14, unique=True, validators=[validate_siret])
    # Short lower-case code used as the prefix of the attestation types it holds (cnaf, dgfip…).
    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    dpo_email = models.EmailField("DPO contact")
    active = models.BooleanField(default=True)
    # Requests per minute for this organisation's OAuth clients; null means the default.
    rate_limit_per_minute = models.PositiveIntegerField(null=True, blank=True)
    # Where signed consent notifications are POSTed (docs/webhooks.md); empty means none are sent.
    webhook_url = models.URLField(max_length=500, blank=True, validators=[validate_webhook_url])
    # The Standard Webhooks symmetric (`v1`) secret, encrypted at rest (core.encryption): the
    # reference receiver libraries check only HMAC signatures. Set by organisation_webhook_secret_rotate.
    webhook_secret = models.BinaryField(blank=True, default=b"", editable=False)
    # After a rotation the previous secret signs too, for services.WEBHOOK_SECRET_OVERLAP.
    webhook_secret_previous = models.BinaryField(blank=True, default=b"", editable=False)
    webhook_secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    # Where this organisation may send citizens back after their decision (a consent request's
    # return_url): only these origins, so the gateway's approval page is nobody's open redirect.
    return_url_origins = models.JSONField(
        default=list,
        blank=True,
        validators=[validate_return_url_origins],
        help_text="Une origine par ligne, comme https://demarches.exemple.fr. / "
        "One origin per line, such as https://demarches.example.fr.",
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.siret})"


class AttestationType(models.Model):
    class SubjectKind(models.TextChoices):
        PERSON = "person", _("Person")
        COMPANY = "company", _("Company")

    class AdapterKind(models.TextChoices):
        DEMO = "demo", _("In-process (demo)")
        HTTP = "http", "HTTP"

    slug = models.CharField(max_length=100, unique=True, validators=[validate_type_slug])
    holder = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="attestation_types")
    title_fr = models.CharField(max_length=200)
    title_en = models.CharField(max_length=200)
    description_fr = models.TextField(blank=True)
    description_en = models.TextField(blank=True)
    subject_kind = models.CharField(max_length=16, choices=SubjectKind.choices, default=SubjectKind.PERSON)
    eidas_min = models.CharField(max_length=8, choices=EidasLevel.choices, default=EidasLevel.SUBSTANTIAL)
    # The French text, the binding one; the English one for English pages, when given.
    legal_basis_text = models.TextField()
    legal_basis_text_en = models.TextField(blank=True)
    legal_basis_reference = models.CharField(max_length=300, blank=True)
    # [{"code": "...", "label_fr": "...", "label_en": "...", "iri": "https://w3id.org/dpv#..."}]
    purposes = models.JSONField(default=list, blank=True)
    adapter_kind = models.CharField(max_length=8, choices=AdapterKind.choices, default=AdapterKind.DEMO)
    adapter_base_url = models.URLField(blank=True)
    adapter_timeout_ms = models.PositiveIntegerField(default=5000)
    # Name of the environment variable holding the provider's bearer token: secrets stay out of the DB.
    adapter_token_env = models.CharField(max_length=100, blank=True)
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.slug

    @property
    def legal_basis_text_fr(self) -> str:
        """The French text under the name `localized` reads (core.templatetags.localized_fields)."""
        return self.legal_basis_text

    def clean(self) -> None:
        if self.holder_id and not self.slug.startswith(self.holder.code + "."):
            raise ValidationError({"slug": f"The slug must start with the holder's code '{self.holder.code}.'"})
        if self.adapter_kind == self.AdapterKind.HTTP and not self.adapter_base_url:
            raise ValidationError({"adapter_base_url": "An http adapter needs a base URL."})

    @property
    def purpose_codes(self) -> set[str]:
        return {purpose["code"] for purpose in self.purposes}


class AttestationField(models.Model):
    class JsonType(models.TextChoices):
        STRING = "string"
        INTEGER = "integer"
        NUMBER = "number"
        BOOLEAN = "boolean"
        ARRAY = "array"
        OBJECT = "object"

    attestation_type = models.ForeignKey(AttestationType, on_delete=models.CASCADE, related_name="fields")
    name = models.CharField(max_length=64)
    label_fr = models.CharField(max_length=200)
    label_en = models.CharField(max_length=200)
    json_type = models.CharField(max_length=16, choices=JsonType.choices)
    format = models.CharField(max_length=32, blank=True)
    # The field's full JSON Schema when it says more than type and format (enum, nullable, the
    # shape of an object or array); the delivered document is checked against it.
    schema = models.JSONField(default=dict, blank=True)
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["attestation_type", "position", "name"]
        constraints = [
            models.UniqueConstraint(fields=["attestation_type", "name"], name="attestation_field_unique_name"),
        ]

    def __str__(self) -> str:
        return f"{self.attestation_type_id}:{self.name}"

    def json_schema(self) -> dict[str, Any]:
        return field_json_schema(json_type=self.json_type, format=self.format, schema=self.schema)


def field_json_schema(*, json_type: str, format: str, schema: dict[str, Any] | None) -> dict[str, Any]:
    """A field's JSON Schema: its own when it says more than type and format, else those two."""
    if schema:
        return dict(schema)
    derived: dict[str, Any] = {"type": json_type}
    if format:
        derived["format"] = format
    return derived


class Habilitation(models.Model):
    """A consumer's authorisation to ask for one attestation type (the DataPass idea)."""

    class Status(models.TextChoices):
        DRAFT = "draft", pgettext_lazy("a habilitation", "Draft")
        SUBMITTED = "submitted", pgettext_lazy("a habilitation", "Submitted")
        CHANGES_REQUESTED = "changes_requested", pgettext_lazy("a habilitation", "Changes requested")
        APPROVED = "approved", pgettext_lazy("a habilitation", "Approved")
        REFUSED = "refused", pgettext_lazy("a habilitation", "Refused")
        REVOKED = "revoked", pgettext_lazy("a habilitation", "Revoked")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    consumer = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="habilitations")
    attestation_type = models.ForeignKey(AttestationType, on_delete=models.PROTECT, related_name="habilitations")
    fields = models.JSONField(default=list)
    purpose_code = models.CharField(max_length=100)
    purpose_text = models.TextField()
    legal_basis = models.TextField()
    legal_basis_reference = models.CharField(max_length=300, blank=True)
    # Null only while a draft leaves it out.
    retention_days = models.PositiveIntegerField(null=True, blank=True)
    dpo_name = models.CharField("DPO name", max_length=200, blank=True)
    dpo_email = models.EmailField("DPO contact", blank=True)
    # Exchanges a month the consumer expects: the provider sizes its service on it.
    expected_volume = models.PositiveIntegerField(null=True, blank=True)
    # Origins the consumer's return_url and redirect URIs will use; added to the consumer's
    # Organisation.return_url_origins on approval.
    return_url_origins = models.JSONField(default=list, blank=True, validators=[validate_return_url_origins])
    valid_until = models.DateField(null=True, blank=True)
    # An approved habilitation's consumer asks to keep it past valid_until; the provider decides.
    extension_until = models.DateField(null=True, blank=True)
    extension_reason = models.TextField(blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SUBMITTED)
    status_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    decided_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["consumer", "attestation_type", "status"], name="habilitation_lookup")]

    def __str__(self) -> str:
        return f"{self.consumer.code} → {self.attestation_type_id} ({self.status})"


class HabilitationStep(models.Model):
    """One step of a habilitation request's history, as both organisations see it in the portal:
    who moved it, from which status to which, and the reason given. (The trail records the same
    step without the reason: free text has no place in a published trail.)"""

    habilitation = models.ForeignKey(Habilitation, on_delete=models.CASCADE, related_name="steps")
    at = models.DateTimeField(default=timezone.now)
    # The trail's actor kind and id (an agent's account, an operator, the system).
    actor_kind = models.CharField(max_length=16)
    actor = models.CharField(max_length=200)
    from_status = models.CharField(max_length=20, choices=Habilitation.Status.choices, blank=True)
    to_status = models.CharField(max_length=20, choices=Habilitation.Status.choices)
    # What the step was when the status stays (an extension asked for, granted or declined).
    action = models.CharField(max_length=40)
    reason = models.TextField(blank=True)
    valid_until = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.habilitation_id}: {self.action}"


class ApiClient(models.Model):
    """Links an OAuth client (django-oauth-toolkit Application) to the organisation it acts for."""

    application = models.OneToOneField(
        "oauth2_provider.Application", on_delete=models.CASCADE, related_name="api_client"
    )
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="api_clients")
    # Non-attestation scopes this client may ever hold (space separated: consents:read …).
    # attestations:<slug> scopes are never listed here: they come from approved habilitations.
    allowed_scopes = models.CharField(max_length=200, default="consents:read consents:write")
    created_at = models.DateTimeField(default=timezone.now)
    # After a rotation the previous secret's keyed hash still authenticates until this time, so
    # the consumer's software can switch without a failed call.
    previous_secret = models.CharField(max_length=255, blank=True, editable=False)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True, editable=False)
    secret_rotated_at = models.DateTimeField(null=True, blank=True, editable=False)
    # When it last obtained a token: what its organisation sees of its use.
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    # A disabled client authenticates no more (its tokens are revoked when it is disabled).
    disabled_at = models.DateTimeField(null=True, blank=True)

    # --- FAPI 2.0 (gateway/oauth/): how the client proves who it is and what it must use --------

    class AuthMethod(models.TextChoices):
        # The client's secret, in HTTP Basic (or, for clients written before, in the body).
        CLIENT_SECRET_BASIC = "client_secret_basic"
        # A JWT signed with a key of the registered JWKS (RFC 7523, OpenID Connect Core §9).
        PRIVATE_KEY_JWT = "private_key_jwt"

    token_endpoint_auth_method = models.CharField(
        max_length=32, choices=AuthMethod.choices, default=AuthMethod.CLIENT_SECRET_BASIC
    )
    # The client's public keys: a JWK set (RFC 7517) registered inline, or the https URL where
    # the client publishes it (fetched through core.outbound, cached). Signing keys (`use` sig or
    # absent) verify its assertions; an encryption key (`use` enc) receives its attestations.
    jwks = models.JSONField(null=True, blank=True)
    jwks_uri = models.URLField(max_length=500, blank=True)
    # Every token is sender-constrained (RFC 9449): no proof, no token; a bearer use is refused.
    require_dpop = models.BooleanField(default=False)
    # Authorization requests only by reference to a pushed request (RFC 9126 §5).
    require_par = models.BooleanField(default=False)
    # Attestations reach this client only inside a JWE made to its `use: enc` key.
    require_encrypted_attestations = models.BooleanField(default=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(jwks__isnull=True) | models.Q(jwks_uri=""), name="api_client_one_jwks_source"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application_id} for {self.organisation.code}"


class Agent(models.Model):
    """An administration's agent, logged in through ProConnect: their provider's (issuer, `sub`),
    and the organisation the `siret` of their latest login ties them to. Their Django user carries
    the session (no password: they only ever log in through their provider)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agent")
    # Empty for the demo agents (demo mode).
    issuer = models.CharField(max_length=255, blank=True)
    subject = models.CharField(max_length=255)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="agents")
    email = models.EmailField()
    given_name = models.CharField(max_length=200)
    usual_name = models.CharField(max_length=200)
    # ProConnect's `uid`: the agent's identifier at their own identity provider.
    uid = models.CharField(max_length=255, blank=True)
    # The language of the pages they last used: their emails are written in it.
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default="fr")
    created_at = models.DateTimeField(default=timezone.now)
    last_login_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["usual_name", "given_name"]
        constraints = [models.UniqueConstraint(fields=["issuer", "subject"], name="agent_issuer_subject")]

    def __str__(self) -> str:
        return f"{self.given_name} {self.usual_name} ({self.organisation_id})"

    @property
    def actor_id(self) -> str:
        """How the trail names them: their account, never their name."""
        return f"agent-{self.pk}"


class AgentRole(models.Model):
    """What an agent may do for an organisation. An operator grants the first administrator
    (`manage.py grant_role`); the organisation's administrators manage the rest. The auditor role
    reads the whole trail and answers citizens' objections: it is held only in a supervisory body
    (Organisation.Kind.SUPERVISORY_BODY, providers.rules.role_allowed)."""

    class Role(models.TextChoices):
        ADMINISTRATOR = "administrator", _("Administrator")
        HABILITATION_MANAGER = "habilitation_manager", _("Habilitation manager")
        AUDITOR = "auditor", _("Auditor")

    agent = models.ForeignKey(Agent, on_delete=models.CASCADE, related_name="roles")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="agent_roles")
    role = models.CharField(max_length=32, choices=Role.choices)
    granted_at = models.DateTimeField(default=timezone.now)
    # The trail's actor id of whoever granted it.
    granted_by = models.CharField(max_length=200)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agent", "organisation", "role"], name="agent_role_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.agent_id} {self.role} at {self.organisation_id}"


class AgentInvitation(models.Model):
    """An administrator's invitation of an email address to join their organisation with roles.
    The roles are granted when someone logs in through ProConnect with that address and the
    organisation's SIRET (the identity provider vouches for both), before `expires_at`."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="invitations")
    email = models.EmailField()
    roles = models.JSONField(default=list)
    invited_by = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey("Agent", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"invitation {self.pk} to {self.organisation_id}"


class AgentEmail(models.Model):
    """Outbox row: one email to one agent (or to an address invited to become one), written in
    their language when queued. Committed with the action it tells of; a Celery task sends it
    after the commit, and a beat sweep retries what the broker or the mail server missed."""

    class Status(models.TextChoices):
        PENDING = "pending"
        SENT = "sent"
        FAILED = "failed"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    to = models.EmailField()
    language = models.CharField(max_length=8, choices=settings.LANGUAGES, default="fr")
    # What it tells of (habilitation.review_needed, habilitation.decided, habilitation.expiring…).
    kind = models.CharField(max_length=60)
    subject = models.CharField(max_length=300)
    body = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(default=timezone.now)
    # The type of the last failure only: a mail server's answer may quote the address.
    last_error = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    # A notice that must go once (a habilitation's 30-day notice to one agent): queued again, it is not.
    dedup_key = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["created_at"]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="agent_email_due")]
        constraints = [
            models.UniqueConstraint(fields=["dedup_key"], condition=~models.Q(dedup_key=""), name="agent_email_once"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} ({self.status})"
