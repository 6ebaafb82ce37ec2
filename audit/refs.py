from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def citizen_ref(subject: str) -> str:
    """The keyed hash that stands for a citizen in the trail.

    Keyed (HMAC) rather than a plain hash so that nobody without AUDIT_HMAC_KEY can confirm a
    guessed identity against the published trail.
    """
    return hmac.new(settings.AUDIT_HMAC_KEY.encode(), subject.encode(), hashlib.sha256).hexdigest()
