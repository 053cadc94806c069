"""The personal-data access log for GraphQL (``domain.audit.access``; the console writes the same log).

Resolvers of personal fields (and the compiled read path) note (entity type, id, field) in the request
context when they return a value unmasked; after execution this extension writes one ``DataAccessEvent``
per entity type, in one insert. If the log cannot be written, the response carries no data: personal data
never leaves unlogged.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension

from domain.audit.access import log_reads
from schema.context import Context
from schema.errors import INTERNAL_MESSAGE, ErrorCode

log = logging.getLogger("jamsos.access_log")


class PersonalDataAccessLog(SchemaExtension):
    async def on_execute(self) -> AsyncIterator[None]:
        yield
        context = self.execution_context.context
        if not isinstance(context, Context) or not context.pii_reads or context.sessions is None:
            return
        caller = context.caller
        try:
            async with context.sessions() as session, session.begin():
                await log_reads(session, caller.actor, caller.meta, context.pii_reads)
        except Exception:
            log.exception("could not write the personal-data access log; withholding the response")
            self.execution_context.result = ExecutionResult(
                data=None,
                errors=[GraphQLError(INTERNAL_MESSAGE, extensions={"code": ErrorCode.INTERNAL_SERVER_ERROR.value})],
            )
