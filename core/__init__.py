"""Plumbing every app uses: errors and problem+json, outbound HTTP, JOSE and keys, authentication
and the one "who is calling" door, the correlation id, the read-only admin base, template tags.

It defines no models and imports no app of the project (an import-linter contract says so):
dependencies point from the apps to core, never back.
"""
