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

from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Annotated

import strawberry
from sqlalchemy import select

from auth.policy import narrow_region_filter, visible_jobs
from auth.scopes import Scope
from domain.claims.events import ClaimChanged
from domain.codes import ErrorCode
from domain.events import Channel, Ended, Subscriber
from domain.jobs.events import JobChanged
from domain.jobs.models import Job
from domain.jobs.rules import FINISHED
from domain.regions.rules import RegionCode, within
from schema.claims.types import ClaimNode
from schema.core.context import Context, Info
from schema.core.enums import ClaimStatusEnum, ProgramEnum, domain_value
from schema.core.errors import BadInput
from schema.core.ids import NO_ROW, local_id
from schema.core.permissions import needs, needs_authentication
from schema.core.subscriptions import SubscriberConnection, _error, event_reads
from schema.jobs.types import JobNode
from schema.regions.filters import parse_region_code


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
        if not await info.context.reader.region_in_register(code.code):
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
