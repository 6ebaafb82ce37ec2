"""The page a refused login shows, citizen or agent: what happened in plain words, and a way on.

People never see the reason's code: it goes to the trail (citizen.login_failed, agent.login_failed)
and this page says what it means for them.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from core.oidc import REASONS

_UNVERIFIABLE = _(
    "The identity provider's answer could not be verified, so the gateway did not use it. "
    "Please start again; if it happens again, try later."
)
_UNREACHABLE = _("The identity provider cannot be reached right now. Please try again later.")

MESSAGES: dict[str, Promise] = {
    "not_configured": _("This way of logging in is not available on this gateway."),
    "cancelled": _("You cancelled the login at the identity provider. You may start again whenever you wish."),
    "provider_refused": _("The identity provider refused the login."),
    "state_mismatch": _(
        "This answer from the identity provider does not match a login started in this browser: it may be an "
        "old link, or the login was started in another window. Please start again."
    ),
    "code_rejected": _(
        "The identity provider refused to confirm this login (it may have been used already). Please start again."
    ),
    "bad_signature": _UNVERIFIABLE,
    "unknown_key": _UNVERIFIABLE,
    "wrong_issuer": _UNVERIFIABLE,
    "wrong_audience": _UNVERIFIABLE,
    "expired": _UNVERIFIABLE,
    "nonce_mismatch": _UNVERIFIABLE,
    "token_invalid": _UNVERIFIABLE,
    "userinfo_invalid": _UNVERIFIABLE,
    "acr_too_low": _(
        "The identity provider confirmed your identity at a lower level of assurance than this page requires. "
        "Log in again with a stronger means of identification."
    ),
    "identity_incomplete": _(
        "The identity provider did not pass your complete identity (birth name, given names, date and place of "
        "birth, sex), which the administrations need to find your records."
    ),
    "organisation_unknown": _(
        "Your organisation is not registered on this gateway, so no account was created. Ask your "
        "organisation to join the gateway, or its administrator to contact the operators."
    ),
    "provider_timeout": _("The identity provider did not answer in time. Please try again in a few minutes."),
    "provider_unreachable": _UNREACHABLE,
    "provider_error": _UNREACHABLE,
}
if set(MESSAGES) != REASONS:
    raise RuntimeError("every login failure reason needs its message")

STATUSES = {
    "not_configured": 404,
    "acr_too_low": 403,
    "organisation_unknown": 403,
    "provider_timeout": 504,
    "provider_unreachable": 502,
    "provider_error": 502,
}


def login_failure_response(request: HttpRequest, reason: str, *, retry_url: str) -> HttpResponse:
    context = {"title": _("The login did not succeed"), "message": MESSAGES[reason], "retry_url": retry_url}
    return render(request, "core/login_failed.html", context, status=STATUSES.get(reason, 400))
