"""The personal-data access log (UU PDP 27/2022): who received unmasked NIKs or family-card numbers.

Resolvers of those fields note (entity type, id) in the request context when they return a value
unmasked; after execution this extension writes one ``DataAccessEvent`` per entity type, in one insert.
If the log cannot be written, the response carries no data: personal data never leaves unlogged.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from graphql import ExecutionResult, GraphQLError
from sqlalchemy import insert
from strawberry.extensions import SchemaExtension

from domain.audit.models import DataAccessEvent
from domain.db import utcnow
from schema.context import Context
from schema.errors import INTERNAL_MESSAGE, ErrorCode

log = logging.getLogger("jamsos.access_log")


async def write_access_log(context: Context) -> bool:
    """Write the request's noted personal-data reads (one row per entity type); False if that failed.

    Both read paths end here: the extension below after execution, and the compiled path's fast lane
    (schema.compiled.fast) before it sends its bytes.
    """
    if not context.pii_reads or context.sessions is None:
        return True
    caller = context.caller
    rows = [
        {
            "occurred_at": utcnow(),
            "actor_subject": caller.actor.subject,
            "actor_kind": caller.actor.kind,
            "client_id": caller.actor.client_id,
            "entity_type": entity_type,
            "entity_ids": sorted(ids, key=lambda i: (len(i), i)),
            "count": len(ids),
            "fields": sorted(fields),
            "request_id": caller.meta.request_id,
            "source_ip": caller.meta.source_ip,
        }
        for entity_type, (ids, fields) in sorted(context.pii_reads.items())
    ]
    try:
        async with context.sessions() as session, session.begin():
            await session.execute(insert(DataAccessEvent), rows)
    except Exception:
        log.exception("could not write the personal-data access log; withholding the response")
        return False
    return True


def withheld() -> ExecutionResult:
    """The answer when the access log could not be written: no data, an internal error."""
    return ExecutionResult(
        data=None,
        errors=[GraphQLError(INTERNAL_MESSAGE, extensions={"code": ErrorCode.INTERNAL_SERVER_ERROR.value})],
    )


class PersonalDataAccessLog(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if isinstance(context, Context) and not await write_access_log(context):
            self.execution_context.result = withheld()
