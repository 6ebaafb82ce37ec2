"""The sandbox provider: a standalone HTTP service standing in for five French administrations.

A separate deployable speaking `docs/provider-api.yaml`, run with `python -m sandbox`. It uses the
Python standard library only, no Django and nothing of the gateway's apps but their demo data
(`providers.demodata`, with the SIRET rule it needs), so that it runs anywhere the product's demo
runs and knows the same people as the in-process demo adapter.
"""
