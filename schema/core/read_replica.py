"""Queries read on the replica (``JAMSOS_DATABASE_READ_URL``), mutations on the primary.

The read session of a request is chosen when its operation is known, before any resolver runs: a query
reads on the replica when the server has one; a mutation keeps the primary for its reads too, so that its
payload shows the write it reports. Writes, the personal-data access log, tokens and the console always
use the primary (their sessions come from elsewhere). A replica lags the primary by its replication
delay; a client that must see its own write reads it from the mutation's payload.
"""

from __future__ import annotations

from collections.abc import Iterator

from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from schema.core.context import Context


class QueriesOnReplica(SchemaExtension):
    def on_execute(self) -> Iterator[None]:
        ec = self.execution_context
        context = ec.context
        if isinstance(context, Context) and ec.graphql_document is not None:
            try:
                is_query = ec.operation_type is OperationType.QUERY
            except Exception:
                is_query = False
            if is_query:
                context.reader.prefer_replica()
        yield
