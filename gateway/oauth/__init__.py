"""The hardened OAuth 2.0 authorization server, built on django-oauth-toolkit.

`server` narrows oauthlib to the two grants the gateway allows, `validators` adds the scope
ceiling, exact redirect URIs, code replay detection, client authentication and introspection
rules and the audit of tokens, `scopes` builds the dynamic `attestations:<slug>` scopes from the
catalogue, `hashers` stores client secrets under a keyed hash, `inputs` refuses what the database
could not hold, `endpoints` holds the token, revocation and introspection endpoints (rate-limited),
`views` the authorization page and the RFC 8414 metadata document.
"""
