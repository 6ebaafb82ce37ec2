"""The audit trail's offline verifier, and the single source of truth for its hashing.

Needs only the Python standard library and `cryptography` (Ed25519); imports nothing else, so it
runs on an auditor's machine as one file: the gateway serves it as a zipapp at
`/api/v1/audit/verifier.pyz` (`make verifier` builds the same bytes), run as
`python verifier.pyz EXPORT.jsonl --key KEY` or `python verifier.pyz BUNDLE.json --bundle --key KEY`.

- `canonical`: RFC 8785 canonical JSON of the values events hold.
- `merkle`: RFC 9162 leaf and node hashes, roots, inclusion and consistency proof checks.
- `note`: C2SP signed notes (Ed25519), verifier keys and tlog checkpoints.
- `export`: the export (`gateway-audit-export/1`) and proof-bundle verifier.
- `errors`: VerificationError, the one exception a failed check raises.
- `cli`: the command line.

Inside the package, imports are relative: the zipapp holds it as the top-level package `tlog`.
docs/trail.md specifies every format, so anyone can write their own verifier.
"""
