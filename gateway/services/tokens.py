"""Tokens in the trail, and what ends them.

django-oauth-toolkit deletes an access token row when it is revoked, so the trail is the only
lasting record that a token existed: its issue and its revocation are events written in the
transaction that writes or deletes the row. Events carry the token's row id, never its value.
"""

from __future__ import annotations

import hashlib

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone
from oauth2_provider.models import AccessToken, RefreshToken

from audit.models import ActorKind, EventType
from audit.services import Actor, event_record
from consent.models import Citizen
from gateway.models import AuthorizationCode
from providers.models import ApiClient


def token_checksum(raw: str) -> str:
    """DOT's lookup checksum (AccessToken.token_checksum): what is stored instead of the token."""
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()


def client_actor(client_id: str) -> Actor:
    return Actor(ActorKind.CONSUMER, client_id)


def _consumer_siret(access_token: AccessToken) -> str:
    siret = ApiClient.objects.filter(application_id=access_token.application_id).values_list(
        "organisation__siret", flat=True
    )
    return siret.first() or ""


def token_issued_record(*, access_token: AccessToken, grant_type: str) -> None:
    if access_token.application is None:
        raise ValueError("Only client tokens are issued here.")
    ApiClient.objects.filter(application_id=access_token.application_id).update(last_used_at=timezone.now())
    event_record(
        type=EventType.TOKEN_ISSUED,
        actor=client_actor(access_token.application.client_id),
        consumer=_consumer_siret(access_token),
        detail={
            "token_id": access_token.pk,
            "grant_type": grant_type,
            "scope": access_token.scope,
            "expires": access_token.expires.isoformat(),
        },
    )


def token_revoked_record(*, access_token: AccessToken, actor: Actor, reason: str) -> None:
    event_record(
        type=EventType.TOKEN_REVOKED,
        actor=actor,
        consumer=_consumer_siret(access_token),
        detail={
            "token_id": access_token.pk,
            "client_id": access_token.application.client_id if access_token.application else "",
            "reason": reason,
        },
    )


@transaction.atomic
def tokens_revoke(*, access_tokens: list[AccessToken], actor: Actor, reason: str) -> int:
    """Revokes each token (and a refresh token bound to it) after recording why."""
    for access_token in access_tokens:
        token_revoked_record(access_token=access_token, actor=actor, reason=reason)
        refresh = RefreshToken.objects.filter(access_token=access_token).first()
        if refresh is not None:
            refresh.revoke()
        else:
            access_token.revoke()
    return len(access_tokens)


@transaction.atomic
def code_replay_revoke(*, code_sha256: str) -> int:
    """A redeemed code came back: whoever holds it now may have stolen it, so every token the
    first redemption obtained is revoked (RFC 6749 §4.1.2, ASVS 10.4.2)."""
    record = AuthorizationCode.objects.select_for_update().filter(code_sha256=code_sha256).first()
    if record is None or not record.token_checksums:
        return 0
    tokens = list(
        AccessToken.objects.select_related("application").filter(
            token_checksum__in=record.token_checksums, application_id=record.application_id
        )
    )
    client_id = tokens[0].application.client_id if tokens and tokens[0].application else "unknown"
    return tokens_revoke(access_tokens=tokens, actor=client_actor(client_id), reason="code_replayed")


def citizen_user(citizen: Citizen) -> AbstractBaseUser:
    """The Django user that stands for a citizen in DOT's grants and tokens (they require one).

    It has no password and no permissions; the gateway never authorises anything by it: access to a
    citizen's data is decided by the consent a token is bound to.
    """
    user_model = get_user_model()
    user, created = user_model.objects.get_or_create(
        username=f"citizen-{citizen.pk}", defaults={"is_active": True, "last_login": timezone.now()}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user
