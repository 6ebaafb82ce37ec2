"""Writes of the gateway: exchanges, tokens, OAuth clients, rate limits (one module per role)."""
