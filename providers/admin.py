"""Operators' and providers' back office: organisations, the catalogue and habilitation decisions.

Habilitations are never edited in place: every decision goes through the services (one audit
event each), from the admin actions below.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.db import models
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext

from audit.models import ActorKind
from audit.services import Actor
from core.admin import ReadOnlyAdmin
from core.errors import GatewayError
from providers.models import Agent, AgentRole, ApiClient, AttestationField, AttestationType, Habilitation, Organisation
from providers.rules import client_keys_problems
from providers.services import (
    WEBHOOK_SECRET_OVERLAP,
    habilitation_approve,
    habilitation_refuse,
    habilitation_request_changes,
    habilitation_revoke,
    organisation_webhook_secret_rotate,
    organisation_webhook_secrets,
    webhook_secret_text,
)


class OriginsField(forms.Field):
    """A list of origins typed one per line (the model field validates each one)."""

    widget = forms.Textarea(attrs={"rows": 3})

    def prepare_value(self, value: Any) -> str:
        return "\n".join(value) if isinstance(value, list) else str(value or "")

    def to_python(self, value: Any) -> list[str]:
        return [line.strip() for line in str(value or "").splitlines() if line.strip()]


class OrganisationForm(forms.ModelForm[Organisation]):
    # The admin builds the form's Meta from the ModelAdmin; only this field is typed differently.
    return_url_origins = OriginsField(
        required=False,
        label=_("Return URL origins"),
        help_text=Organisation._meta.get_field("return_url_origins").help_text,
    )


@admin.register(Organisation)
class OrganisationAdmin(admin.ModelAdmin[Organisation]):
    form = OrganisationForm
    list_display = ("name", "code", "siret", "kind", "active")
    list_filter = ("kind", "active")
    search_fields = ("name", "code", "siret")
    ordering = ("name",)
    # Webhooks are delivered over TLS; a bare host typed in the admin means https.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    readonly_fields = ("webhook_secret_shown",)
    actions = ("webhook_secret_rotate",)

    def save_model(self, request: HttpRequest, obj: Organisation, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        # An organisation gets its webhook secret with its first webhook URL (docs/webhooks.md).
        if obj.webhook_url and not obj.webhook_secret:
            organisation_webhook_secret_rotate(organisation=obj)

    @admin.display(description="Secret du webhook (à transmettre) / Webhook secret (to hand over)")
    def webhook_secret_shown(self, obj: Organisation) -> str:
        try:
            current = organisation_webhook_secrets(organisation=obj, now=timezone.now())[:1]
        except InvalidTag:
            # Encrypted under another SECRET_KEY: webhooks go out with v1a signatures only.
            return "Illisible : générez-en un nouveau. / Unreadable: generate a new one."
        return webhook_secret_text(current[0]) if current else "—"

    @admin.action(
        description="Générer un nouveau secret de webhook / Generate a new webhook secret", permissions=["change"]
    )
    def webhook_secret_rotate(self, request: HttpRequest, queryset: QuerySet[Organisation]) -> None:
        for organisation in queryset:
            organisation_webhook_secret_rotate(organisation=organisation)
            self.log_change(request, organisation, "Nouveau secret de webhook / New webhook secret")
        hours = int(WEBHOOK_SECRET_OVERLAP.total_seconds() // 3600)
        self.message_user(
            request,
            f"Nouveau secret généré ; l'ancien signe encore pendant {hours} heures. / "
            f"New secret generated; the previous one keeps signing for {hours} hours.",
            messages.SUCCESS,
        )


class AttestationFieldInline(admin.TabularInline[AttestationField, AttestationType]):
    model = AttestationField
    extra = 0
    fields = ("position", "name", "label_fr", "label_en", "json_type", "format", "schema")
    ordering = ("position", "name")
    verbose_name = _("Field")
    verbose_name_plural = _("Fields")


@admin.register(AttestationType)
class AttestationTypeAdmin(admin.ModelAdmin[AttestationType]):
    list_display = ("slug", "title_fr", "holder", "eidas_min", "adapter_kind", "active")
    list_filter = ("holder", "eidas_min", "adapter_kind", "active")
    search_fields = ("slug", "title_fr", "title_en")
    list_select_related = ("holder",)
    inlines = [AttestationFieldInline]
    # Providers are reached over TLS; a bare host typed in the admin means https.
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    fieldsets = (
        (None, {"fields": ("slug", "holder", "active")}),
        (_("Presentation"), {"fields": ("title_fr", "title_en", "description_fr", "description_en")}),
        (
            _("Rules"),
            {
                "fields": (
                    "subject_kind",
                    "eidas_min",
                    "legal_basis_text",
                    "legal_basis_text_en",
                    "legal_basis_reference",
                    "purposes",
                )
            },
        ),
        (
            _("Adapter"),
            {"fields": ("adapter_kind", "adapter_base_url", "adapter_timeout_ms", "adapter_token_env")},
        ),
    )


class HabilitationActionForm(ActionForm):
    reason = forms.CharField(
        label=_("Reason (changes, refusal, revocation)"),
        required=False,
        max_length=2000,
    )
    valid_until = forms.DateField(
        label=_("Valid until (approval)"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
    )


def _operator(request: HttpRequest) -> Actor:
    return Actor(ActorKind.OPERATOR, request.user.get_username())


def _apply_each(
    modeladmin: admin.ModelAdmin[Habilitation],
    request: HttpRequest,
    queryset: QuerySet[Habilitation],
    service: Callable[[Habilitation], Habilitation],
    done: str,
) -> None:
    succeeded = 0
    for habilitation in queryset.select_related("consumer", "attestation_type"):
        try:
            service(habilitation)
        except GatewayError as error:
            modeladmin.message_user(request, f"{habilitation} : {error.detail} [{error.code}]", messages.ERROR)
        else:
            succeeded += 1
    if succeeded:
        modeladmin.message_user(request, f"{done} : {succeeded}", messages.SUCCESS)


def _form_value(request: HttpRequest, name: str) -> str:
    return request.POST.get(name, "").strip()


class ReasonedDecision(Protocol):
    def __call__(self, *, habilitation: Habilitation, reason: str, actor: Actor) -> Habilitation: ...


def _apply_each_with_reason(
    modeladmin: admin.ModelAdmin[Habilitation],
    request: HttpRequest,
    queryset: QuerySet[Habilitation],
    service: ReasonedDecision,
    done: str,
) -> None:
    """The decisions that take the operator's reason from the action form."""
    actor, reason = _operator(request), _form_value(request, "reason")
    _apply_each(modeladmin, request, queryset, lambda h: service(habilitation=h, reason=reason, actor=actor), done)


@admin.register(Habilitation)
class HabilitationAdmin(admin.ModelAdmin[Habilitation]):
    list_display = ("consumer", "attestation_type", "status", "purpose_code", "valid_until", "version", "decided_at")
    list_filter = ("status", "attestation_type")
    search_fields = ("consumer__name", "consumer__siret", "attestation_type__slug")
    list_select_related = ("consumer", "attestation_type")
    action_form = HabilitationActionForm
    actions = ("approve", "request_changes", "refuse", "revoke")

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Requests come from consumers through the service, never typed in by an operator.
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [field.name for field in Habilitation._meta.fields]

    @admin.action(description=_("Approve"), permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Habilitation]) -> None:
        raw = _form_value(request, "valid_until")
        field = HabilitationActionForm.base_fields["valid_until"]
        try:
            valid_until = field.clean(raw) if raw else None
        except forms.ValidationError:
            self.message_user(request, _("Invalid end date."), messages.ERROR)
            return
        actor = _operator(request)
        _apply_each(
            self,
            request,
            queryset,
            lambda h: habilitation_approve(habilitation=h, actor=actor, valid_until=valid_until),
            pgettext("habilitations", "Approved"),
        )

    @admin.action(description=_("Request changes"), permissions=["change"])
    def request_changes(self, request: HttpRequest, queryset: QuerySet[Habilitation]) -> None:
        _apply_each_with_reason(
            self, request, queryset, habilitation_request_changes, pgettext("habilitations", "Changes requested")
        )

    @admin.action(description=_("Refuse"), permissions=["change"])
    def refuse(self, request: HttpRequest, queryset: QuerySet[Habilitation]) -> None:
        _apply_each_with_reason(self, request, queryset, habilitation_refuse, pgettext("habilitations", "Refused"))

    @admin.action(description=_("Revoke"), permissions=["change"])
    def revoke(self, request: HttpRequest, queryset: QuerySet[Habilitation]) -> None:
        _apply_each_with_reason(self, request, queryset, habilitation_revoke, pgettext("habilitations", "Revoked"))


class ApiClientForm(forms.ModelForm[ApiClient]):
    """The client's FAPI settings, checked by the rule the client-creation service applies."""

    def clean(self) -> dict[str, Any]:
        cleaned: dict[str, Any] = super().clean() or {}
        problems = client_keys_problems(
            auth_method=cleaned.get("token_endpoint_auth_method") or "",
            jwks=cleaned.get("jwks"),
            jwks_uri=cleaned.get("jwks_uri") or "",
            require_encrypted_attestations=bool(cleaned.get("require_encrypted_attestations")),
            demo_mode=settings.DEMO_MODE,
        )
        for field, message in problems.items():
            self.add_error(field, message)
        return cleaned


@admin.register(ApiClient)
class ApiClientAdmin(admin.ModelAdmin[ApiClient]):
    form = ApiClientForm
    list_display = (
        "application",
        "organisation",
        "allowed_scopes",
        "token_endpoint_auth_method",
        "require_dpop",
        "require_par",
        "created_at",
    )
    list_filter = ("token_endpoint_auth_method", "require_dpop", "require_par", "require_encrypted_attestations")
    list_select_related = ("application", "organisation")
    search_fields = ("organisation__name", "organisation__siret", "application__name", "application__client_id")
    raw_id_fields = ("application",)
    fieldsets = (
        (None, {"fields": ("application", "organisation", "allowed_scopes")}),
        (
            "FAPI 2.0",
            {
                "fields": (
                    "token_endpoint_auth_method",
                    "jwks",
                    "jwks_uri",
                    "require_dpop",
                    "require_par",
                    "require_encrypted_attestations",
                )
            },
        ),
    )


class AgentRoleInline(admin.TabularInline[AgentRole, Agent]):
    model = AgentRole
    fields = ["organisation", "role", "granted_at", "granted_by"]
    readonly_fields = ["organisation", "role", "granted_at", "granted_by"]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Agent)
class AgentAdmin(ReadOnlyAdmin):
    """Agents appear with their first login; roles change through `manage.py grant_role` and the
    organisations' administrators (each change is a role.* event), never here."""

    list_display = ["usual_name", "given_name", "email", "organisation", "last_login_at"]
    list_select_related = ["organisation"]
    search_fields = ["email", "usual_name", "organisation__siret"]
    exclude = ["user"]
    inlines = [AgentRoleInline]
