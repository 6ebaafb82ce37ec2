"""The sandbox provider: a standalone HTTP service standing in for five French administrations.

Standard library only (no Django), so that it runs on its own (`python -m providers.sandbox`)
as well as behind the `run_sandbox_provider` management command.
"""

from __future__ import annotations

from providers.demodata.population import Person, Population, demo_citizens
from providers.sandbox.server import make_server, serve

__all__ = ["Person", "Population", "demo_citizens", "make_server", "serve"]
