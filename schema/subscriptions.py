"""Subscriptions: ``claimChanged`` over graphql-transport-ws and SSE (docs/adr/0016-subscriptions.md).

A committed claim write announces the claim's id (domain.claims.events); every subscriber then loads the
claim itself, through the read path's loaders, as its own principal: a row the subscriber may not see never
reaches it, personal fields are masked as on reads, and what an event shows unmasked is in the access log
before the event leaves (:class:`SubscriptionEvents`). The token a subscription runs on is checked again at
each event and every ``check_seconds`` without one; once it has expired or been revoked the subscription
ends with ``UNAUTHENTICATED``.

``jobProgress(id)`` is built the same way on the jobs' channel: the runner announces each committed chunk
and state change (domain.jobs.events), and the subscriber reloads the job through the jobs' visibility rule.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from sqlalchemy import select
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from auth.policy import narrow_region_filter, region_exists, visible_jobs
from auth.principal import Principal
from auth.scopes import Scope
from auth.tokens import InvalidToken
from domain.audit.access import PersonalDataReads
from domain.claims.events import ClaimChanged
from domain.codes import ErrorCode
from domain.events import Channel, Ended, EventBus, Subscriber
from domain.jobs.events import JobChanged
from domain.jobs.models import Job
from domain.jobs.rules import FINISHED
from domain.regions.rules import RegionCode, within
from schema.claims import ClaimNode
from schema.core.access_log import AccessLogWithheld, write_access_log
from schema.core.context import Context, Info, Reader
from schema.core.enums import ClaimStatusEnum, ProgramEnum, domain_value
from schema.core.errors import BadInput, format_errors
from schema.core.ids import NO_ROW, local_id
from schema.core.permissions import needs, needs_authentication
from schema.jobs import JobNode
from schema.regions import parse_region_code


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


@strawberry.input(description="Which claim changes to receive; all given conditions apply, within your region.")
class ClaimChangeFilter:
    program: ProgramEnum | None = strawberry.field(default=None, description="Only claims on this programme.")
    status: ClaimStatusEnum | None = strawberry.field(
        default=None, description="Only changes to this status (SUBMITTED: new claims)."
    )
    region_code: str | None = strawberry.field(
        default=None, description="Only claims of this region and below (outside yours: none)."
    )


@strawberry.type(description="A claim was submitted or moved to another status.")
class ClaimChange:
    status: ClaimStatusEnum = strawberry.field(description="The status this change moved the claim to.")
    version: int = strawberry.field(description="The claim's version after this change.")
    claim: ClaimNode = strawberry.field(
        description="The claim as it is now, as a read shows it to you (masked without pii:read); it may have "
        "moved on since this change."
    )


@dataclass(frozen=True)
class _Wanted:
    """A claimChanged filter, checked: `region` is the narrowed region (None: all yours), or `nowhere`."""

    program: str | None = None
    status: str | None = None
    region: RegionCode | None = None
    nowhere: bool = False

    def wants_change(self, change: ClaimChanged) -> bool:
        return not self.nowhere and (self.status is None or change.status.value == self.status)

    def wants_claim(self, node: ClaimNode) -> bool:
        return (self.program is None or node.program.value == self.program) and (
            self.region is None or within(self.region, node.region_code)
        )


async def _wanted(info: Info, f: ClaimChangeFilter | None) -> _Wanted:
    if f is None:
        return _Wanted()
    region, nowhere = None, False
    if f.region_code is not None:
        code = parse_region_code(f.region_code, "filter.regionCode")
        if not await info.context.reader.one(region_exists(code.code)):
            raise BadInput(f"region {code.code} does not exist in the Kemendagri list", field="filter.regionCode")
        region = narrow_region_filter(info.context.principal, code)
        nowhere = region is None  # outside the caller's region: no changes, as a list there has no rows
    return _Wanted(domain_value(f.program), domain_value(f.status), region, nowhere)


@strawberry.type(description="Live updates, over graphql-transport-ws or SSE (text/event-stream).")
class Subscription:
    @strawberry.subscription(
        description="An event each time a claim you may see is submitted, verified, approved, paid or rejected.",
        **needs(Scope.CLAIMS_READ),
    )
    async def claim_changed(
        self,
        info: Info,
        filter: Annotated[ClaimChangeFilter | None, strawberry.argument(description="Conditions.")] = None,
    ) -> AsyncGenerator[ClaimChange, None]:
        context = info.context
        connection = await _subscriber_connection(context)
        principal = context.principal
        async with event_reads(context):
            wanted = await _wanted(info, filter)
        with connection.seats.seat(connection.seat_key(principal)):
            async with connection.events.subscribe(Channel.CLAIMS) as subscriber:
                while True:
                    payload = await _next_payload(subscriber, connection)
                    change = ClaimChanged.from_payload(payload) if payload is not None else None
                    if change is None or not wanted.wants_change(change):
                        continue
                    async with event_reads(context):
                        row = await context.loaders.claim.load(change.claim_id)
                        node = ClaimNode.from_row(row, principal) if row is not None else None
                        if node is not None and wanted.wants_claim(node):
                            # The event's fields resolve while this session is open (graphql-core runs
                            # them before asking for the next event).
                            yield ClaimChange(status=change.status, version=change.version, claim=node)

    @strawberry.subscription(
        description="The job as it is now, then again each time it commits a chunk or changes state; ends when it "
        "is DONE, FAILED or CANCELLED. A job you may not see is NOT_FOUND.",
        **needs_authentication(),
    )
    async def job_progress(
        self, info: Info, id: Annotated[strawberry.ID, strawberry.argument(description="Job id.")]
    ) -> AsyncGenerator[JobNode, None]:
        context = info.context
        connection = await _subscriber_connection(context)
        job_id = local_id(str(id), "Job")
        wanted = select(Job).where(Job.id == job_id, visible_jobs(context.principal))
        with connection.seats.seat(connection.seat_key(context.principal)):
            # Listen before the first read: a chunk committed in between is then an event, not a gap.
            async with connection.events.subscribe(Channel.JOBS) as subscriber:
                while True:
                    async with event_reads(context):
                        rows = [] if job_id == NO_ROW else await context.reader.all(wanted)
                        if not rows:
                            raise _error(f"job {id} does not exist or is not visible to you", ErrorCode.NOT_FOUND)
                        yield JobNode.from_row(rows[0])
                    if rows[0].state in FINISHED:
                        return
                    await _next_change_of(subscriber, connection, job_id)


async def _subscriber_connection(context: Context) -> SubscriberConnection:
    """The connection a subscription runs on, its token checked; subscriptions need one (not plain HTTP)."""
    connection = context.connection
    if connection is None:
        raise BadInput("subscriptions run over graphql-transport-ws or SSE (Accept: text/event-stream)")
    await connection.check_token()
    return connection


async def _next_payload(subscriber: Subscriber, connection: SubscriberConnection) -> dict[str, object] | None:
    """The next event of `subscriber`'s channel, or None after ``check_seconds`` without one; the token is
    checked again either way (expired or revoked: the subscription ends)."""
    try:
        payload = await subscriber.next(wait_seconds=connection.check_seconds)
    except Ended as exc:
        raise _error(str(exc), ErrorCode.SERVICE_UNAVAILABLE) from None
    await connection.check_token()
    return payload


async def _next_change_of(subscriber: Subscriber, connection: SubscriberConnection, job_id: int) -> None:
    """Wait for the next announcement about job `job_id`."""
    while True:
        payload = await _next_payload(subscriber, connection)
        change = JobChanged.from_payload(payload) if payload is not None else None
        if change is not None and change.job_id == job_id:
            return


__all__ = ["ClaimChange", "ClaimChangeFilter", "Seats", "SubscriberConnection", "Subscription", "SubscriptionEvents"]
