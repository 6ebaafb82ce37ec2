"""The administrations' portal pages that need the gateway's own data (OAuth clients, exchanges)
or the consent app's (webhook deliveries); the habilitation and member pages live in providers."""
