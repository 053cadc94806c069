"""Relay connections with keyset cursors.

A cursor encodes the sort key of its row (the ordered column's value and the id), so the next page is
``WHERE (sort, id) > (cursor) ORDER BY sort, id LIMIT first + 1``: an index range scan, stable while rows are
added, and the same cost on page 1 and page 10,000. ``totalCount`` runs its COUNT only when asked for.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import enum
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import strawberry
from sqlalchemy import BindParameter, ColumnElement, Select, func, select, tuple_
from strawberry import relay

from schema.core import demand
from schema.core.bounds import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from schema.core.context import Reader
from schema.core.errors import BadInput

NodeT = TypeVar("NodeT", bound=relay.Node)
RowT = TypeVar("RowT")


@strawberry.enum(description="Sort direction.")
class OrderDirection(enum.Enum):
    ASC = strawberry.enum_value("ASC", description="Smallest first.")
    DESC = strawberry.enum_value("DESC", description="Largest first.")


# @shareable: every subgraph that pages defines this same value type, and composition refuses a type that
# two subgraphs resolve unless both mark it shareable (tests/federation composes with one that pages).
@strawberry.federation.type(name="PageInfo", shareable=True, description="Where a page sits in its list.")
class PageInfo(relay.PageInfo):
    pass


@strawberry.type(description="A page of results with cursors (Relay connection) and the total number of matches.")
class CountedConnection(relay.Connection[NodeT], Generic[NodeT]):
    page_info: PageInfo = strawberry.field(description="Where this page sits in the list.")
    count_query: strawberry.Private[Callable[[], Awaitable[int]] | None] = None

    @strawberry.field(
        description="How many items match the filter in all pages (one COUNT, run only when asked).",
        directives=demand.count(),
    )
    async def total_count(self) -> int:
        if self.count_query is None:
            return len(self.edges)
        return await self.count_query()


ConnT = TypeVar("ConnT", bound=CountedConnection[Any])


@dataclass(frozen=True)
class SortKey:
    """A sortable field: its public name and its column. The row id always breaks ties."""

    name: str
    column: Any
    #: Python type of the row id that breaks ties (regions are keyed by their code).
    id_type: type = int

    @property
    def value_type(self) -> type:
        result: type = self.column.type.python_type
        return result


def _fits(value: Any, expected: type) -> bool:
    """A decoded cursor value of the column's type (an aware datetime, a date that is not a datetime)."""
    if expected is dt.datetime:
        return isinstance(value, dt.datetime) and value.tzinfo is not None
    if expected is dt.date:
        return isinstance(value, dt.date) and not isinstance(value, dt.datetime)
    if expected is int:
        return isinstance(value, int) and not isinstance(value, bool) and abs(value) < 10**18
    return isinstance(value, expected) and len(str(value)) <= 400


def check_first(first: int | None) -> int:
    if first is None:
        return DEFAULT_PAGE_SIZE
    if first < 0 or first > MAX_PAGE_SIZE:
        raise BadInput(f"first must be between 0 and {MAX_PAGE_SIZE}; {first} was given", field="first")
    return first


def _encode_value(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"t": "dt", "v": value.isoformat()}
    if isinstance(value, dt.date):
        return {"t": "d", "v": value.isoformat()}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get("t") == "dt":
            return dt.datetime.fromisoformat(value["v"])
        if value.get("t") == "d":
            return dt.date.fromisoformat(value["v"])
        raise ValueError("unknown cursor value")
    if isinstance(value, str | int):
        return value
    raise ValueError("unknown cursor value")


def encode_cursor(sort: SortKey, descending: bool, value: Any, row_id: Any) -> str:
    return encode_cursor_of_encoded(sort, descending, _encode_value(value), row_id)


def encode_cursor_of_encoded(sort: SortKey, descending: bool, encoded: Any, row_id: Any) -> str:
    """:func:`encode_cursor` of a sort value already in its cursor form (a datetime as ``{"t": "dt", "v":
    isoformat}``, a date as ``{"t": "d", …}``): the form the compiled path's JSON statements return it in."""
    payload = json.dumps([sort.name, "D" if descending else "A", encoded, row_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: SortKey, descending: bool) -> tuple[Any, Any]:
    """The (sort value, id) in `cursor`; BAD_USER_INPUT when it is malformed or from another ordering."""
    malformed = BadInput("the cursor is malformed; pass an endCursor or edge cursor from a previous page", "after")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, direction, value, row_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise malformed from None
    if name != sort.name or direction != ("D" if descending else "A"):
        raise BadInput("the cursor belongs to a different orderBy; keep the same orderBy while paging", field="after")
    try:
        decoded = _decode_value(value)
    except (ValueError, TypeError):
        raise malformed from None
    # A cursor is opaque but not trusted: its values must be of the sort column's and the id's types.
    if not _fits(decoded, sort.value_type) or not _fits(row_id, sort.id_type):
        raise malformed
    return decoded, row_id


def after_key(column: Any, id_column: Any, descending: bool, value: Any, row_id: Any) -> ColumnElement[bool]:
    """Rows after the cursor's (value, id) in the page order; `value` and `row_id` may be bind parameters."""
    key = tuple_(column, id_column)
    # Python values are bound with the columns' types; bind parameters (the JSON statements') are used as given.
    bound: Any = tuple_(value, row_id) if isinstance(value, BindParameter) else (value, row_id)
    condition: ColumnElement[bool] = key < bound if descending else key > bound
    return condition


def keyset_page(
    stmt: Select[RowT], *, sort: SortKey, id_column: Any, descending: bool, limit: int, after: str | None
) -> Select[RowT]:
    """`stmt` narrowed to the page after `after`, in order, with one extra row that says whether more follow.

    The resolvers and the compiled read path (schema.compiled) both page through here.
    """
    page_stmt = stmt
    if after:
        value, row_id = decode_cursor(after, sort, descending)
        page_stmt = page_stmt.where(after_key(sort.column, id_column, descending, value, row_id))
    if descending:
        page_stmt = page_stmt.order_by(sort.column.desc(), id_column.desc())
    else:
        page_stmt = page_stmt.order_by(sort.column.asc(), id_column.asc())
    return page_stmt.limit(limit + 1)


async def paginate(
    reader: Reader,
    stmt: Select[RowT],
    *,
    sort: SortKey,
    id_column: Any,
    descending: bool,
    first: int | None,
    after: str | None,
    to_node: Callable[[RowT], Any],
    connection: type[ConnT],
) -> ConnT:
    """Run one keyset page of `stmt` (already filtered and scoped) and wrap it as a connection."""
    limit = check_first(first)
    page_stmt = keyset_page(stmt, sort=sort, id_column=id_column, descending=descending, limit=limit, after=after)
    rows = list(await reader.all(page_stmt))
    count_stmt = select(func.count()).select_from(stmt.order_by(None).subquery())
    return page_of(
        rows,
        limit=limit,
        after=after,
        cursor_of=lambda row: encode_cursor(sort, descending, _sort_value(row, sort), _row_id(row, id_column)),
        to_node=to_node,
        connection=connection,
        count_query=lambda: reader.one(count_stmt),
    )


def page_of(
    rows: Sequence[RowT],
    *,
    limit: int,
    after: str | None,
    cursor_of: Callable[[RowT], str],
    to_node: Callable[[RowT], Any],
    connection: type[ConnT],
    count_query: Callable[[], Awaitable[int]],
) -> ConnT:
    """A connection from up to ``limit + 1`` rows in order (the extra row only says there is a next page)."""
    edges = [relay.Edge(cursor=cursor_of(row), node=to_node(row)) for row in rows[:limit]]
    page_info = PageInfo(
        has_next_page=len(rows) > limit,
        has_previous_page=after is not None,
        start_cursor=edges[0].cursor if edges else None,
        end_cursor=edges[-1].cursor if edges else None,
    )
    return connection(edges=edges, page_info=page_info, count_query=count_query)


def _sort_value(row: Any, sort: SortKey) -> Any:
    return getattr(row, sort.column.key)


def _row_id(row: Any, id_column: Any) -> Any:
    return getattr(row, id_column.key)
