"""Which identity provider a citizen logs in with, for the level a page needs.

FranceConnect vouches for eidas1, FranceConnect+ for eidas2 and eidas3; an instance may configure
one or both (or one provider serving every level). A page that needs a level asks the provider
that serves the lowest sufficient one: nobody is asked for more than the page needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.oidc import Provider, provider
from providers.models import EidasLevel

# In order of preference when two serve the same level.
CITIZEN_PROVIDERS = ("franceconnect", "franceconnect_plus")


@dataclass(frozen=True)
class LoginRoute:
    provider: Provider
    # The level asked (acr_values), at least the one the page needs.
    level: str

    @property
    def acr_values(self) -> str:
        return self.provider.acr_values[self.level]

    @property
    def plus(self) -> bool:
        """FranceConnect+ (its own button)."""
        return self.provider.name == "franceconnect_plus"


def citizen_provider(name: str) -> Provider | None:
    return provider(name) if name in CITIZEN_PROVIDERS else None


def login_route(needed: str = "") -> LoginRoute | None:
    """The provider and level to ask for a page that needs `needed` (any level when empty); None
    when no configured provider vouches for that much."""
    wanted = EidasLevel.rank(needed) or 1
    routes = [
        LoginRoute(config, level)
        for config in filter(None, map(provider, CITIZEN_PROVIDERS))
        for level in config.levels
        if EidasLevel.rank(level) >= wanted
    ]
    return min(routes, key=lambda route: EidasLevel.rank(route.level), default=None)
