"""A parent's nested connection on the resolver path: a page of its child rows, for a whole batch of parents.

``Participant.claims`` and ``Participant.contributions`` page the same way: the caller's visible child rows of
each parent, oldest first by a sort column with the row id breaking ties, ``first`` per parent, an optional
``after`` cursor, and ``totalCount`` by one COUNT per batch only when asked. :class:`ChildPages` declares a
relation's part (its rows, its parent column, its order, which rows the caller may see). On the resolver path
:func:`child_connection` is the one resolver body, with one windowed statement per batch of parents
(``row_number() OVER (PARTITION BY parent)``) and one grouped COUNT, so the statements per request do not grow
with the page of parents; the compiled path (schema.compiled) pages the same declarations in its JSON statement.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, Subquery, func, select
from sqlalchemy.orm import aliased
from strawberry.dataloader import DataLoader

from auth.principal import Principal
from schema.core.context import Info
from schema.core.loaders import MAX_BATCH
from schema.core.pagination import (
    ConnT,
    SortKey,
    after_key,
    check_first,
    decode_cursor,
    encode_cursor,
    page_of,
)

RowT = TypeVar("RowT")


@dataclass(frozen=True, slots=True)
class ChildPages(Generic[RowT]):
    """How one nested connection pages: its rows, the column naming their parent, the order, what is visible."""

    #: Names the request's loaders of this relation (one page loader per page size, one count loader).
    name: str
    model: type[RowT]
    #: The child's column holding the parent's id (``Claim.participant_id``).
    parent: Any
    #: The page order, ascending; the row id breaks ties.
    sort: SortKey
    #: The rows the caller may see, as ``auth.policy`` states it: a condition on `model`'s columns (the
    #: compiled path applies the same one, schema.compiled.sql_json).
    visible: Callable[[Principal], ColumnElement[bool]]

    def pages_subquery(self, principal: Principal, parent_ids: list[int], after: str | None) -> Subquery:
        """The visible rows of some parents after `after`, each ranked within its parent (``rank``)."""
        model: Any = self.model
        rank = func.row_number().over(partition_by=self.parent, order_by=(self.sort.column, model.id)).label("rank")
        inner = select(model, rank).where(self.parent.in_(parent_ids), self.visible(principal))
        if after is not None:
            value, row_id = decode_cursor(after, self.sort, False)
            inner = inner.where(after_key(self.sort.column, model.id, False, value, row_id))
        return inner.subquery()


def _pages(info: Info, spec: ChildPages[RowT], limit: int) -> DataLoader[tuple[int, str | None], list[RowT]]:
    """One page of rows per parent: one windowed statement per distinct `after` in the batch."""
    principal, reader = info.context.principal, info.context.reader
    parent_key, sort_key = spec.parent.key, spec.sort.column.key

    async def load(keys: list[tuple[int, str | None]]) -> list[list[RowT]]:
        by_after: dict[str | None, list[int]] = defaultdict(list)
        for parent_id, after in keys:
            by_after[after].append(parent_id)
        pages: dict[tuple[int, str | None], list[RowT]] = defaultdict(list)
        for after, ids in by_after.items():
            sub = spec.pages_subquery(principal, ids, after)
            row: Any = aliased(spec.model, sub)
            stmt = select(row).where(sub.c.rank <= limit + 1).order_by(sub.c[parent_key], sub.c[sort_key], sub.c.id)
            for found in await reader.all(stmt):
                pages[(getattr(found, parent_key), after)].append(found)
        return [pages.get(k, []) for k in keys]

    return DataLoader(load_fn=load, max_batch_size=MAX_BATCH)


def _counts(info: Info, spec: ChildPages[Any]) -> DataLoader[int, int]:
    """How many visible rows each parent has: one grouped COUNT per batch."""
    principal, reader = info.context.principal, info.context.reader

    async def load(keys: list[int]) -> list[int]:
        stmt = select(spec.parent, func.count()).where(spec.parent.in_(keys), spec.visible(principal))
        counts = {int(row[0]): int(row[1]) for row in await reader.rows(stmt.group_by(spec.parent))}
        return [counts.get(k, 0) for k in keys]

    return DataLoader(load_fn=load, max_batch_size=MAX_BATCH)


async def child_connection(
    info: Info,
    spec: ChildPages[RowT],
    parent_id: int,
    first: int | None,
    after: str | None,
    *,
    to_node: Callable[[RowT], Any],
    connection: type[ConnT],
) -> ConnT:
    """The page of `parent_id`'s rows after `after`, as `connection` (the resolver of a nested connection)."""
    limit = check_first(first)
    if after is not None:
        decode_cursor(after, spec.sort, False)  # reject a malformed cursor with a clear error up front
    loaders = info.context.loaders
    pages = loaders.get_or_create(f"{spec.name}:pages:{limit}", lambda: _pages(info, spec, limit))
    counts = loaders.get_or_create(f"{spec.name}:counts", lambda: _counts(info, spec))
    rows: list[RowT] = await pages.load((parent_id, after))

    async def count() -> int:
        result: int = await counts.load(parent_id)
        return result

    sort_value, row_id = attrgetter(spec.sort.column.key), attrgetter("id")
    return page_of(
        rows,
        limit=limit,
        after=after,
        cursor_of=lambda r: encode_cursor(spec.sort, False, sort_value(r), row_id(r)),
        to_node=to_node,
        connection=connection,
        count_query=count,
    )


__all__ = ["ChildPages", "child_connection"]
