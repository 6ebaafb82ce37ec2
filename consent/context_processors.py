"""What every page's header shows of the logged-in citizen: who they are, and a way out."""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError
from django.http import HttpRequest

from consent.auth import current_citizen
from consent.models import Citizen


def citizen(request: HttpRequest) -> dict[str, Any]:
    def logged_in() -> Citizen | None:
        # A request refused before the session middleware ran (too large, say) has no session.
        if not hasattr(request, "session"):
            return None
        try:
            return current_citizen(request)
        except DatabaseError:
            # The error page of a database that fails still renders, without the name.
            return None

    # A callable: only the pages that render the header pay for the lookup (once per request).
    return {"logged_in_citizen": logged_in}
