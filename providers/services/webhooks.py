"""An organisation's webhook secret: the Standard Webhooks `v1` HMAC secret, set and rotated."""

from __future__ import annotations

import base64
import datetime as dt
import secrets

from django.db import transaction
from django.utils import timezone

from core.encryption import decrypt, encrypt
from providers.models import Organisation

# Standard Webhooks: a symmetric secret is 24 to 64 random bytes, shown as `whsec_` + base64.
WEBHOOK_SECRET_BYTES = 32
WEBHOOK_SECRET_PREFIX = "whsec_"
# How long the previous secret keeps signing after a rotation: time for the receiver to switch.
WEBHOOK_SECRET_OVERLAP = dt.timedelta(hours=24)
WEBHOOK_SECRET_PURPOSE = "webhook-secret"


@transaction.atomic
def organisation_webhook_secret_rotate(*, organisation: Organisation) -> str:
    """Gives the organisation a new webhook secret and returns it as `whsec_…`, to hand over to the
    organisation. The previous secret keeps signing beside it for WEBHOOK_SECRET_OVERLAP, so a
    receiver switching to the new one misses no webhook (one earlier still is dropped at once)."""
    locked = Organisation.objects.select_for_update().get(pk=organisation.pk)
    secret = secrets.token_bytes(WEBHOOK_SECRET_BYTES)
    locked.webhook_secret_previous = bytes(locked.webhook_secret)
    locked.webhook_secret_rotated_at = timezone.now() if locked.webhook_secret else None
    locked.webhook_secret = encrypt(secret, purpose=WEBHOOK_SECRET_PURPOSE, associated_data=_secret_row(locked))
    locked.save(update_fields=["webhook_secret", "webhook_secret_previous", "webhook_secret_rotated_at"])
    organisation.webhook_secret = locked.webhook_secret
    organisation.webhook_secret_previous = locked.webhook_secret_previous
    organisation.webhook_secret_rotated_at = locked.webhook_secret_rotated_at
    return webhook_secret_text(secret)


def organisation_webhook_secrets(*, organisation: Organisation, now: dt.datetime) -> tuple[bytes, ...]:
    """The secrets that sign the organisation's webhooks at `now`, current first: none before
    the first rotation, two during an overlap."""
    sealed = [bytes(organisation.webhook_secret)] if organisation.webhook_secret else []
    rotated_at = organisation.webhook_secret_rotated_at
    if organisation.webhook_secret_previous and rotated_at and now < rotated_at + WEBHOOK_SECRET_OVERLAP:
        sealed.append(bytes(organisation.webhook_secret_previous))
    row = _secret_row(organisation)
    return tuple(decrypt(secret, purpose=WEBHOOK_SECRET_PURPOSE, associated_data=row) for secret in sealed)


def webhook_secret_text(secret: bytes) -> str:
    return WEBHOOK_SECRET_PREFIX + base64.b64encode(secret).decode("ascii")


def _secret_row(organisation: Organisation) -> bytes:
    # Binds the ciphertext to its organisation: copied onto another row, it does not decrypt.
    return f"organisation:{organisation.pk}".encode()
