from __future__ import annotations

import hashlib
import hmac

from django.conf import settings


def citizen_ref(subject: str, issuer: str = "") -> str:
    """The keyed hash that stands for a citizen in the trail.

    Keyed (HMAC) rather than a plain hash so that nobody without AUDIT_HMAC_KEY can confirm a
    guessed identity against the published trail. A citizen is their identity provider's `sub`
    under its issuer; logins without an issuer (the demo login, and citizens recorded before
    OpenID Connect) keep the reference of their subject alone, so their history stays theirs.
    """
    key = f"{issuer}\n{subject}" if issuer else subject
    return hmac.new(settings.AUDIT_HMAC_KEY.encode(), key.encode(), hashlib.sha256).hexdigest()


def company_ref(siren: str) -> str:
    """The keyed hash that stands for a company in the trail (in the same column as a citizen's).

    A SIREN is public, but a sole trader's SIREN names a person: keyed like a citizen, so the
    trail treats every subject alike and publishes no identifier anyone could look up."""
    return hmac.new(settings.AUDIT_HMAC_KEY.encode(), f"company\n{siren}".encode(), hashlib.sha256).hexdigest()


def scoped_ref(ref: str, scope: str) -> str:
    """A reference that stands for `ref` within `scope` only (one consent, say): whoever holds it
    and `ref`'s other uses cannot tell they are the same person, yet the gateway can recompute it."""
    return hmac.new(settings.AUDIT_HMAC_KEY.encode(), f"scoped\n{scope}\n{ref}".encode(), hashlib.sha256).hexdigest()
