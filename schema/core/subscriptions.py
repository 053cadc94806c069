"""The subscription machinery every subscription field builds on: seats per client, the subscriber's
connection and the extension that runs each event's result through the HTTP pipeline's codes and masking."""

from __future__ import annotations

import collections
import contextlib
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from auth.principal import Principal
from auth.tokens import InvalidToken
from domain.audit.access import PersonalDataReads
from domain.codes import ErrorCode
from domain.events import EventBus
from schema.core.access_log import AccessLogWithheld, write_access_log
from schema.core.context import Context, Reader
from schema.core.errors import format_errors


def _error(message: str, code: ErrorCode) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code.value})


class Seats:
    """Open subscriptions per caller (client and user, as the cost budget counts them), at most `limit` each."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._taken: collections.Counter[str] = collections.Counter()

    def taken(self, key: str) -> int:
        return self._taken[key]

    @contextlib.contextmanager
    def seat(self, key: str) -> Iterator[None]:
        if self._taken[key] >= self.limit:
            raise _error(
                f"at most {self.limit} subscriptions may be open at once for one client and user; end one first",
                ErrorCode.RATE_LIMITED,
            )
        self._taken[key] += 1
        try:
            yield
        finally:
            self._taken[key] -= 1
            if not self._taken[key]:
                del self._taken[key]


@dataclass
class SubscriberConnection:
    """What a subscriber's connection (one WebSocket, or one SSE request) runs with."""

    events: EventBus
    seats: Seats
    #: Verifies a bearer token again (signature, expiry, revocation); raises InvalidToken.
    verify: Callable[[str], Awaitable[Principal]]
    #: The seat a principal takes (api.graphql.budget_key).
    seat_key: Callable[[Principal], str]
    #: Refuses (raises a GraphQLError) a document the principal's client may not run: a trusted-documents-only
    #: client subscribes only with the text of a document registered for it (api.documents).
    admit: Callable[[Principal, str], Awaitable[None]]
    #: Seconds between checks of the token while no event comes.
    check_seconds: float = 5.0
    #: The bearer token the connection authenticated with (None: anonymous, and nothing to subscribe to).
    token: str | None = None

    async def check_token(self) -> None:
        """Raise UNAUTHENTICATED once the connection's token has expired or been revoked."""
        if self.token is None:
            raise _error("subscriptions need a bearer token", ErrorCode.UNAUTHENTICATED)
        try:
            await self.verify(self.token)
        except InvalidToken as exc:
            raise _error(f"the subscription ended: {exc}", ErrorCode.UNAUTHENTICATED) from None


class SubscriptionEvents(SchemaExtension):
    """The request lifecycle of an operation on a subscriber connection.

    - Each operation gets a context of its own: the operations of one WebSocket share the connection's
      context, but one subscription's events must not read through another's loaders or log its reads.
    - Only subscriptions run there (queries and mutations go over HTTP, with its caching and fast lane).
    - Every result is sent with the codes and masking of HTTP responses (schema.core.errors), and an event whose
      personal-data reads cannot be logged is withheld (schema.core.access_log), like any response.
    """

    def on_operation(self) -> Iterator[None]:
        ec = self.execution_context
        if isinstance(ec.context, Context) and ec.context.connection is not None:
            ec.context = dataclasses.replace(ec.context, pii_reads=PersonalDataReads(), _loaders=None)
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        context = ec.context
        if isinstance(context, Context) and context.connection is not None:
            if ec.operation_type is not OperationType.SUBSCRIPTION:
                raise _error(
                    "only subscriptions run over graphql-transport-ws and SSE; send queries and mutations by HTTP",
                    ErrorCode.BAD_USER_INPUT,
                )
            await context.connection.admit(context.principal, ec.query or "")
        yield

    async def on_stream_result(self, result: Any) -> AsyncIterator[None]:
        context = self.execution_context.context
        if isinstance(context, Context) and context.connection is not None:
            if context.pii_reads and not await write_access_log(context):
                result.data, result.errors = None, [AccessLogWithheld()]
            elif result.errors:
                result.errors = format_errors(list(result.errors))
            context.pii_reads = PersonalDataReads()
        yield


@contextlib.asynccontextmanager
async def event_reads(context: Context) -> AsyncIterator[None]:
    """Reads of one event (or of setting a subscription up) on a session of their own, closed after it."""
    if context.sessions is None:
        raise RuntimeError("a subscription needs the app's sessions")
    session = context.sessions()
    reader = Reader(session, autocommit=True)
    context.read_afresh(reader)
    try:
        yield
    finally:
        try:
            await reader.close()
        finally:
            await session.close()
