"""Claims in GraphQL: the query fields, and the claims of a participant (pages, counts)."""

from __future__ import annotations

from collections import defaultdict
from typing import Annotated

import strawberry
from sqlalchemy import Subquery, func, select
from sqlalchemy.orm import aliased
from strawberry.dataloader import DataLoader

from auth.policy import visible
from auth.principal import Principal
from auth.scopes import Scope
from domain.claims.models import Claim
from schema.claims.filters import CLAIM_SORTS, SUBMITTED_SORT, ClaimFilter, ClaimOrder, claim_conditions
from schema.claims.types import ClaimConnection, ClaimNode
from schema.core import demand
from schema.core.bounds import PAGE_SIZE_TEXT
from schema.core.context import Info
from schema.core.errors import BadInput
from schema.core.ids import local_id
from schema.core.loaders import MAX_BATCH
from schema.core.pagination import (
    OrderDirection,
    after_key,
    check_first,
    decode_cursor,
    encode_cursor,
    page_of,
    paginate,
)
from schema.core.permissions import needs


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
        stmt = select(Claim).where(*await claim_conditions(reader, principal, filter))
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
