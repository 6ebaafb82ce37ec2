"""Text the database can hold, for checking input before it is looked up or stored.

PostgreSQL's text holds no NUL character, psycopg cannot encode an unpaired surrogate, and a
column has a length: a value breaking any of these makes the database fail, so it is refused as
input instead (DRF's CharField refuses the first two in JSON bodies; headers, OAuth parameters
and form values that DRF does not see are checked with this).
"""

from __future__ import annotations


def text_storable(value: str, *, max_length: int) -> bool:
    if len(value) > max_length or "\x00" in value:
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
