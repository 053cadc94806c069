"""Database ids inside GraphQL ids: parsed strictly, so a crafted id is "not found", never a crash."""

from __future__ import annotations

import re

from strawberry import relay

#: ASCII digits only (``str.isdigit`` accepts '²' and Arabic-Indic digits), and few enough for BIGINT.
_DB_ID = re.compile(r"[0-9]{1,18}")

#: The largest value of an ``INTEGER`` key (every family's table but the audit trail's, which is ``BIGINT``).
#: A larger id binds fine in Python but PostgreSQL refuses it ("out of int32 range"): it is "not found" here.
INTEGER_MAX = 2**31 - 1

NO_ROW = -1  # matches nothing


def db_id(raw: object, *, big: bool = False) -> int:
    """The integer id in `raw`, or :data:`NO_ROW` when it is not a plausible one for an ``INTEGER`` key
    (``big``: a ``BIGINT`` key)."""
    text = str(raw)
    if not _DB_ID.fullmatch(text):
        return NO_ROW
    value = int(text)
    return value if big or value <= INTEGER_MAX else NO_ROW


def local_id(global_id: str, type_name: str) -> int:
    """The integer id inside a global id of `type_name`; :data:`NO_ROW` when it is not one."""
    try:
        gid = relay.GlobalID.from_id(global_id)
    except Exception:
        return NO_ROW
    return db_id(gid.node_id) if gid.type_name == type_name else NO_ROW
