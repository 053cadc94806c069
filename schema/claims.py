"""Claims, their benefit lines and status history in GraphQL."""

from __future__ import annotations

import datetime as dt
import enum
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Any

import strawberry
from sqlalchemy import Subquery, func, select
from sqlalchemy.orm import aliased
from strawberry import relay
from strawberry.dataloader import DataLoader

from auth.policy import pii_visible, require_scope, shown, visible
from auth.principal import Principal
from auth.scopes import Scope
from domain.claims.models import Claim, ClaimBenefit
from schema.core import demand
from schema.core.context import Info
from schema.core.enums import (
    BenefitKindEnum,
    ClaimStatusEnum,
    EducationLevelEnum,
    ProgramEnum,
    RelationshipEnum,
    domain_value,
)
from schema.core.errors import BadInput
from schema.core.ids import db_id, local_id
from schema.core.limits import CLAIM_BENEFITS_SIZE, CLAIM_HISTORY_SIZE, PAGE_SIZE_TEXT
from schema.core.loaders import MAX_BATCH
from schema.core.pagination import (
    CountedConnection,
    OrderDirection,
    SortKey,
    after_key,
    check_first,
    decode_cursor,
    encode_cursor,
    page_of,
    paginate,
)
from schema.core.permissions import needs
from schema.filters import apply, region_filter
from schema.participants import ParticipantNode
from schema.regions import RegionNode


@strawberry.type(name="ClaimBenefit", description="One benefit line of a claim: what, to whom, how much.")
class BenefitLine:
    kind: BenefitKindEnum = strawberry.field(description="Kind of benefit.")
    recipient_name: str | None = strawberry.field(description="Who receives it.")
    recipient_nik_shown: strawberry.Private[str | None]
    pii_shown: strawberry.Private[bool]
    claim_id: strawberry.Private[int]
    relationship: RelationshipEnum | None = strawberry.field(description="Recipient's relation to the participant.")
    education_level: EducationLevelEnum | None = strawberry.field(description="For scholarships: the level.")
    amount: Decimal | None = strawberry.field(
        description="Amount in rupiah; null without pii:read on JKK and JKP claims, whose amounts are "
        "multiples of the wage."
    )

    @strawberry.field(description="Recipient's NIK; masked without pii:read. Unmasked reads are logged.")
    def recipient_nik(self, info: Info) -> str | None:
        if self.pii_shown and self.recipient_nik_shown is not None:
            info.context.note_pii_read("Claim", self.claim_id, "recipientNik")
        return self.recipient_nik_shown


@strawberry.type(name="ClaimStatusEvent", description="One step in a claim's history.")
class StatusEvent:
    status: ClaimStatusEnum = strawberry.field(description="The status the claim moved to.")
    at: dt.datetime = strawberry.field(description="When.")
    actor: str = strawberry.field(description="Subject of the principal who made the change.")
    note: str | None = strawberry.field(description="Note or reason given.")


@strawberry.federation.type(name="Claim", keys=["id"], description="A benefit claim on one programme.")
class ClaimNode(relay.Node):
    id: relay.NodeID[int]
    claim_number: str = strawberry.field(description="Claim number shown to the participant.")
    program: ProgramEnum = strawberry.field(description="Programme claimed on.")
    status: ClaimStatusEnum = strawberry.field(description="Current stage.")
    incident_date: dt.date = strawberry.field(description="Date of the death, accident, dismissal or retirement.")
    submitted_at: dt.datetime = strawberry.field(description="When the claim was received.")
    paid_at: dt.datetime | None = strawberry.field(description="When it was paid.")
    amount_approved: Decimal | None = strawberry.field(
        description="Total approved, in rupiah; null without pii:read for JKK and JKP claims, whose amounts are "
        "multiples of the wage."
    )
    version: int = strawberry.field(description="Row version, for optimistic locking (expectedVersion).")
    participant_id: strawberry.Private[int]
    region_code: strawberry.Private[str]

    @classmethod
    def from_row(cls, row: Claim, principal: Principal) -> ClaimNode:
        return cls(
            id=row.id,
            claim_number=row.claim_number,
            program=row.program,
            status=row.status,
            incident_date=row.incident_date,
            submitted_at=row.submitted_at,
            paid_at=row.paid_at,
            amount_approved=shown(principal, Claim, "amount_approved", row.amount_approved, row.program),
            version=row.version,
            participant_id=row.participant_id,
            region_code=row.region_code,
        )

    @strawberry.federation.field(description="The claimant participant.", **needs(Scope.PARTICIPANTS_READ))
    async def participant(self, info: Info) -> ParticipantNode | None:
        row = await info.context.loaders.participant.load(self.participant_id)
        return ParticipantNode.from_row(row, info.context.principal) if row else None

    @strawberry.field(
        description="Benefit lines (for scholarships, one per child).", directives=demand.bounded(CLAIM_BENEFITS_SIZE)
    )
    async def benefits(self, info: Info) -> list[BenefitLine]:
        principal: Principal = info.context.principal
        rows = await info.context.loaders.benefits.load(self.id)
        return [
            BenefitLine(
                kind=r.kind,
                recipient_name=r.recipient_name,
                recipient_nik_shown=shown(principal, ClaimBenefit, "recipient_nik", r.recipient_nik),
                pii_shown=pii_visible(principal),
                claim_id=self.id,
                relationship=r.relationship,
                education_level=r.education_level,
                amount=shown(principal, ClaimBenefit, "amount", r.amount, self.program),
            )
            for r in rows
        ]

    @strawberry.field(description="Status history, oldest first.", directives=demand.bounded(CLAIM_HISTORY_SIZE))
    async def history(self, info: Info) -> list[StatusEvent]:
        rows = await info.context.loaders.claim_history.load(self.id)
        return [StatusEvent(status=r.status, at=r.at, actor=r.actor, note=r.note) for r in rows]

    @strawberry.federation.field(
        description="Region of the participant when the claim was made.", **needs(Scope.REGIONS_READ)
    )
    async def region(self, info: Info) -> RegionNode | None:
        row = await info.context.loaders.region.load(self.region_code)
        return RegionNode.from_row(row) if row else None

    @classmethod
    async def resolve_nodes(  # type: ignore[override]  # relay.Node declares overloads per `required`
        cls, *, info: Info, node_ids: Iterable[str], required: bool = False
    ) -> list[ClaimNode | None]:
        require_scope(info.context.principal, Scope.CLAIMS_READ)
        ids = [db_id(i) for i in node_ids]
        rows = await info.context.loaders.claim.load_many(ids)
        return [cls.from_row(r, info.context.principal) if r else None for r in rows]

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID, **_rest: Any) -> ClaimNode | None:
        require_scope(info.context.principal, Scope.CLAIMS_READ)
        row = await info.context.loaders.claim.load(local_id(str(id), "Claim"))
        return cls.from_row(row, info.context.principal) if row else None


@strawberry.type(name="ClaimConnection", description="A page of claims.")
class ClaimConnection(CountedConnection[ClaimNode]):
    pass


SUBMITTED_SORT = SortKey("SUBMITTED_AT", Claim.submitted_at)


def claim_pages_subquery(principal: Principal, participant_ids: list[int], after: str | None) -> Subquery:
    """The visible claims of some participants after `after`, each ranked within its participant (oldest first).

    Keeping ``rank <= limit + 1`` gives one page per participant in one statement; the resolvers' loader
    and the compiled read path (schema.compiled) both page nested claims through here (the latter passes an
    expanding ``bindparam`` as `participant_ids` and reuses the statement).
    """
    rank = (
        func.row_number().over(partition_by=Claim.participant_id, order_by=(Claim.submitted_at, Claim.id)).label("rank")
    )
    inner = select(Claim, rank).where(Claim.participant_id.in_(participant_ids), visible(principal, Claim))
    if after is not None:
        value, row_id = decode_cursor(after, SUBMITTED_SORT, False)
        inner = inner.where(after_key(Claim.submitted_at, Claim.id, False, value, row_id))
    return inner.subquery()


def _claim_pages(info: Info, limit: int) -> DataLoader[tuple[int, str | None], list[Claim]]:
    """Loader of one page of claims per participant: one windowed query for a whole batch of participants."""
    principal = info.context.principal
    reader = info.context.reader

    async def load(keys: list[tuple[int, str | None]]) -> list[list[Claim]]:
        by_after: dict[str | None, list[int]] = defaultdict(list)
        for participant_id, after in keys:
            by_after[after].append(participant_id)
        pages: dict[tuple[int, str | None], list[Claim]] = defaultdict(list)
        for after, ids in by_after.items():
            sub = claim_pages_subquery(principal, ids, after)
            claim = aliased(Claim, sub)
            stmt = (
                select(claim)
                .where(sub.c.rank <= limit + 1)
                .order_by(sub.c.participant_id, sub.c.submitted_at, sub.c.id)
            )
            for row in await reader.all(stmt):
                pages[(row.participant_id, after)].append(row)
        return [pages.get(k, []) for k in keys]

    return DataLoader(load_fn=load, max_batch_size=MAX_BATCH)


def _claim_counts(info: Info) -> DataLoader[int, int]:
    principal, reader = info.context.principal, info.context.reader

    async def load(keys: list[int]) -> list[int]:
        stmt = (
            select(Claim.participant_id, func.count())
            .where(Claim.participant_id.in_(keys), visible(principal, Claim))
            .group_by(Claim.participant_id)
        )
        counts = {int(row[0]): int(row[1]) for row in await reader.rows(stmt)}
        return [counts.get(k, 0) for k in keys]

    return DataLoader(load_fn=load, max_batch_size=MAX_BATCH)


async def claims_of_participant(
    info: Info, participant_id: int, first: int | None, after: str | None
) -> ClaimConnection:
    limit = check_first(first)
    if after is not None:
        decode_cursor(after, SUBMITTED_SORT, False)  # reject a malformed cursor with a clear error up front
    loaders = info.context.loaders
    pages = loaders.get_or_create(f"claims_of_participant:{limit}", lambda: _claim_pages(info, limit))
    counts = loaders.get_or_create("claim_counts", lambda: _claim_counts(info))
    rows: list[Claim] = await pages.load((participant_id, after))

    async def count() -> int:
        result: int = await counts.load(participant_id)
        return result

    return page_of(
        rows,
        limit=limit,
        after=after,
        cursor_of=lambda r: encode_cursor(SUBMITTED_SORT, False, r.submitted_at, r.id),
        to_node=lambda r: ClaimNode.from_row(r, info.context.principal),
        connection=ClaimConnection,
        count_query=count,
    )


@strawberry.input(description="Conditions a claim must meet; all given conditions apply.")
class ClaimFilter:
    region_code: str | None = strawberry.field(default=None, description="This region and everything below it.")
    program: ProgramEnum | None = strawberry.field(default=None, description="Only this programme.")
    status: ClaimStatusEnum | None = strawberry.field(default=None, description="Only this status.")
    submitted_from: dt.date | None = strawberry.field(default=None, description="Submitted on or after this date.")
    submitted_to: dt.date | None = strawberry.field(default=None, description="Submitted on or before this date.")


@strawberry.enum(description="Fields claims can be sorted by.")
class ClaimOrderField(enum.Enum):
    SUBMITTED_AT = strawberry.enum_value("submitted_at", description="Submission time.")
    CLAIM_NUMBER = strawberry.enum_value("claim_number", description="Claim number.")
    INCIDENT_DATE = strawberry.enum_value("incident_date", description="Incident date.")


CLAIM_SORTS = {
    ClaimOrderField.SUBMITTED_AT: SUBMITTED_SORT,
    ClaimOrderField.CLAIM_NUMBER: SortKey("CLAIM_NUMBER", Claim.claim_number),
    ClaimOrderField.INCIDENT_DATE: SortKey("INCIDENT_DATE", Claim.incident_date),
}


@strawberry.input(description="Sort order of a claim list.")
class ClaimOrder:
    field: ClaimOrderField = strawberry.field(default=ClaimOrderField.SUBMITTED_AT, description="Field to sort by.")
    direction: OrderDirection = strawberry.field(default=OrderDirection.ASC, description="Direction.")


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=dt.UTC)


@strawberry.type
class ClaimQuery:
    @strawberry.federation.field(
        description="One claim by exactly one of id or claimNumber; null when there is none you may see.",
        **needs(Scope.CLAIMS_READ),
    )
    async def claim(
        self,
        info: Info,
        id: Annotated[strawberry.ID | None, strawberry.argument(description="Global id.")] = None,
        claim_number: Annotated[str | None, strawberry.argument(description="Claim number.")] = None,
    ) -> ClaimNode | None:
        if (id is None) == (claim_number is None):
            raise BadInput("give exactly one of id or claimNumber")
        loaders = info.context.loaders
        if id is not None:
            row = await loaders.claim.load(local_id(str(id), "Claim"))
        else:
            row = await loaders.claim_by_number.load(str(claim_number))
        return ClaimNode.from_row(row, info.context.principal) if row else None

    @strawberry.federation.field(
        description="Claims you may see, filtered and sorted.", directives=demand.page(), **needs(Scope.CLAIMS_READ)
    )
    async def claims(
        self,
        info: Info,
        filter: Annotated[ClaimFilter | None, strawberry.argument(description="Conditions.")] = None,
        order_by: Annotated[ClaimOrder | None, strawberry.argument(description="Sort order.")] = None,
        first: Annotated[int | None, strawberry.argument(description=PAGE_SIZE_TEXT)] = None,
        after: Annotated[str | None, strawberry.argument(description="Cursor from a previous page.")] = None,
    ) -> ClaimConnection:
        principal, reader = info.context.principal, info.context.reader
        f = filter or ClaimFilter()
        if f.submitted_from and f.submitted_to and f.submitted_from > f.submitted_to:
            raise BadInput("submittedFrom is after submittedTo", field="filter.submittedFrom")
        stmt = select(Claim).where(visible(principal, Claim))
        if f.region_code is not None:
            stmt = stmt.where(await region_filter(reader, principal, Claim, f.region_code))
        stmt = apply(
            stmt,
            Claim.program == domain_value(f.program) if f.program is not None else None,
            Claim.status == domain_value(f.status) if f.status is not None else None,
            Claim.submitted_at >= _day_start(f.submitted_from) if f.submitted_from else None,
            Claim.submitted_at < _day_start(f.submitted_to + dt.timedelta(days=1)) if f.submitted_to else None,
        )
        order = order_by or ClaimOrder()
        return await paginate(
            reader,
            stmt,
            sort=CLAIM_SORTS[order.field],
            id_column=Claim.id,
            descending=order.direction is OrderDirection.DESC,
            first=first,
            after=after,
            to_node=lambda r: ClaimNode.from_row(r, principal),
            connection=ClaimConnection,
        )
