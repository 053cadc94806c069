"""One statement per root field, the JSON built by PostgreSQL (``json_build_object``/``json_agg``).

For a plan whose every part the database can render exactly as the schema serialises it, the whole value
of a root field — the participant, its region, programmes and page of claims, or a page of participants
with all of that per row, ``totalCount`` and ``hasNextPage`` — comes back as one JSON text from one
statement; nested relations are correlated subqueries (the claims page with its own ``LIMIT``), so the
statements per request do not grow with the page.

The rules are the resolvers' rules, expressed as SQL by their owners: rows are narrowed by
``auth.policy.visible``, personal and wage-derived columns go through ``auth.policy.shown_sql`` (the SQL
form of ``shown``, from the same tables), filters and pages come from ``participant_conditions`` and
``keyset_page``. Values are rendered as the schema's serialisers render them: enum names from the schema's
own enum values, ``Date`` as ``YYYY-MM-DD``, ``DateTime`` as Python's ``isoformat()`` in UTC (microseconds
only when there are any), ``Decimal`` as its text, global ids as base64 of ``Type:id``. The differential
test (tests/schema/test_compiled_reads.py) holds both paths to the same JSON.

Cursors come back as each row's sort key in the cursor's value form (:meth:`JsonBuilder.cursor`) and are
encoded by Python after ``orjson.loads`` (:class:`Finish`, ``schema.core.pagination.encode_cursor_of_encoded``),
so a cursor's JSON and base64 are exactly the resolvers'; a nested ``after`` is decoded and checked by
``decode_cursor`` before the statement runs and its values are bound as parameters.

``_entities`` of Participant representations is one statement too, whatever their number: the keys go in
as two parallel arrays (``unnest … WITH ORDINALITY``), each slot is the participant it names when the caller
may see it and ``null`` otherwise (a row outside the caller's regions reads like no row), in the
representations' order; malformed representations are refused before, by the resolvers' own checks.

For a caller with ``pii:read``, an object that returns personal fields also carries its row id (under
:data:`ROW_ID`, a key no GraphQL name can take); :class:`Finish` takes it out and notes the fields for the
personal-data access log exactly as the row path notes them, so the log's rows are the same on both paths.

SQLite keeps the row-by-row path (:mod:`schema.compiled.run`). The roots compiled at all are ``participant``,
``participants`` and ``_entities`` of Participants; ``node``, ``claim(s)``, ``region(s)`` and
``beneficiary``/``beneficiaries`` are answered by the resolvers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import GraphQLEnumType, GraphQLObjectType, GraphQLScalarType, GraphQLSchema, get_named_type
from sqlalchemy import (
    BigInteger,
    BindParameter,
    Boolean,
    ColumnElement,
    FromClause,
    Integer,
    Select,
    String,
    Text,
    and_,
    case,
    cast,
    func,
    literal,
    literal_column,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by

from auth.policy import personal_columns, pii_visible, shown_sql, visible
from auth.principal import Principal
from domain.claims.models import Claim
from domain.participants.models import Participant, ParticipantProgram
from domain.participants.status import status_sql
from domain.regions.models import Region
from schema.claims.filters import SUBMITTED_SORT
from schema.compiled.plan import ConnectionPlan, Leaf, ObjectPlan, OperationPlan, Relation, Typename
from schema.core.pagination import SortKey, after_key, encode_cursor_of_encoded

_P = Participant.__table__
_R = Region.__table__
_PP = ParticipantProgram.__table__
_C = Claim.__table__

_MODELS: dict[str, type[Any]] = {
    "Participant": Participant,
    "Claim": Claim,
    "Region": Region,
    "ProgramEnrolment": ParticipantProgram,
}

_EMPTY_LIST: ColumnElement[Any] = literal_column("'[]'::json")


class NotInSql(Exception):
    """Part of the plan cannot be rendered by the database exactly as the schema would.

    :func:`covers` refuses such a plan before a statement is built (the row path answers it), so reaching
    this is a bug of this module, never an answer to a request.
    """


#: How each GraphQL scalar is rendered in SQL exactly as the schema's ``serialize`` would render it.
_SCALAR_SQL: dict[str, Callable[[ColumnElement[Any]], ColumnElement[Any]]] = {
    "DateTime": lambda value: _isoformat(value),
    "Date": lambda value: func.to_char(value, literal("YYYY-MM-DD", String)),
    "Decimal": lambda value: cast(value, Text),
    "String": lambda value: cast(value, Text),
    "ID": lambda value: cast(value, Text),
    "Int": lambda value: type_coerce(value, Integer),
    "Boolean": lambda value: type_coerce(value, Boolean),
}
#: The scalars (besides enums) a JSON statement may carry; a plan asking for any other one takes the row path.
SQL_SCALARS = frozenset(_SCALAR_SQL)
#: The relations :meth:`JsonBuilder.relation` joins in SQL.
SQL_RELATIONS = frozenset({"region", "programs", "claims"})


def covers(plan: OperationPlan, schema: GraphQLSchema) -> bool:
    """Whether every root of `plan` can be answered by one JSON statement (every type, scalar and relation)."""
    return all(root.name in _ROOTS and _covers(root.plan, schema) for root in plan.roots)


_ROOTS = frozenset({"participant", "participants", "_entities"})


def _covers(plan: ObjectPlan | ConnectionPlan, schema: GraphQLSchema) -> bool:
    if isinstance(plan, ConnectionPlan):
        return _covers(plan.node, schema)
    graphql_type = schema.get_type(plan.typename)
    if plan.typename not in _MODELS or not isinstance(graphql_type, GraphQLObjectType):
        return False
    for item in plan.items:
        if isinstance(item, Relation) and not (item.name in SQL_RELATIONS and _covers(item.plan, schema)):
            return False
        if isinstance(item, Leaf) and item.name != "id" and not _in_sql(graphql_type.fields[item.name].type):
            return False
    return True


def _in_sql(graphql_type: Any) -> bool:
    named = get_named_type(graphql_type)
    return isinstance(named, GraphQLEnumType) or (isinstance(named, GraphQLScalarType) and named.name in SQL_SCALARS)


@dataclass(frozen=True, slots=True)
class NestedPage:
    """A nested claims page: its ``first`` (checked as the resolvers check it) and its ``after`` cursor's
    (submittedAt, id) as bind parameters, so that compiled text can be run again with another cursor."""

    limit: int
    after: tuple[BindParameter[Any], BindParameter[Any]] | None = None


#: The key under which an object carries its row id for the personal-data access log (not a GraphQL name,
#: so it cannot meet a response key); :class:`Finish` removes it.
ROW_ID = "#id"


class JsonBuilder:
    """Builds the JSON expressions of a plan for one principal shape (the statement is cached per shape)."""

    def __init__(
        self, schema: GraphQLSchema, principal: Principal, pages: dict[int, NestedPage], today: dt.date
    ) -> None:
        self.schema = schema
        self.principal = principal
        #: The day a participant's status is derived for (domain.participants.status); part of the cache key.
        self.today = today
        #: Each nested connection's page, by ``id(relation)`` (checked by the caller, as the resolvers do).
        self.pages = pages
        #: With pii:read, objects returning personal fields carry their row id (ROW_ID) for the access log.
        self.pii = pii_visible(principal)

    # --- objects ------------------------------------------------------------------------------------------

    def object(self, plan: ObjectPlan, row: FromClause) -> ColumnElement[Any]:
        """``json_build_object`` of `plan`'s items, in the query's order, for the row `row`."""
        model = _MODELS[plan.typename]
        graphql_type = self.schema.get_type(plan.typename)
        assert isinstance(graphql_type, GraphQLObjectType)
        parts: list[Any] = []
        for item in plan.items:
            parts.append(literal(item.key, String))
            if isinstance(item, Typename):
                parts.append(literal(item.typename, String))
            elif isinstance(item, Leaf):
                parts.append(self.leaf(plan.typename, model, graphql_type, item, row))
            else:
                parts.append(self.relation(item, row))
        if self.pii and any(isinstance(i, Leaf) and i.column in personal_columns(model) for i in plan.items):
            parts += [literal(ROW_ID, String), row.c.id]
        return func.json_build_object(*parts)

    def entities(self, plan: ObjectPlan, ids: ColumnElement[Any], numbers: ColumnElement[Any]) -> Select[Any]:
        """``_entities`` of Participant representations: a JSON array in the representations' order.

        `ids` and `numbers` are parallel arrays, one slot per representation: its id (or NULL) and its
        membership number (or NULL). Each slot is the participant it names if the caller may see it, else
        ``null`` — the same answer for a row outside the caller's regions as for no row at all.
        """
        reps = (
            func.unnest(cast(ids, ARRAY(BigInteger)), cast(numbers, ARRAY(Text)))
            .table_valued("id", "number", with_ordinality="ord")
            .render_derived("reps")
        )
        found = or_(_P.c.id == reps.c.id, _P.c.membership_number == reps.c.number)
        entity = select(self.object(plan, _P)).where(found, visible(self.principal, Participant)).scalar_subquery()
        aggregated = func.json_agg(aggregate_order_by(entity, reps.c.ord))
        return select(cast(func.coalesce(aggregated, _EMPTY_LIST), Text)).select_from(reps)

    def leaf(
        self, typename: str, model: type[Any], graphql_type: GraphQLObjectType, leaf: Leaf, row: FromClause
    ) -> ColumnElement[Any]:
        column = row.c[leaf.column]
        if leaf.name == "id":
            # Strawberry's global id: base64("Type:id"), standard alphabet with padding (to_base64).
            text = literal(f"{typename}:", String).concat(cast(column, Text))
            return func.encode(func.convert_to(text, literal("UTF8", String)), literal("base64", String))
        program = row.c.get("program")
        value: ColumnElement[Any] = column
        if leaf.column in personal_columns(model, wage_based=True):
            value = shown_sql(self.principal, model, leaf.column, column, program)
        elif model is Participant and leaf.column == "status":
            value = status_sql(column, row.c.paid_through, self.today)
        named = get_named_type(graphql_type.fields[leaf.name].type)
        if isinstance(named, GraphQLEnumType):
            return self.enum(named, value)
        render = _SCALAR_SQL.get(named.name)
        if render is None:
            raise NotInSql(named.name)
        return render(value)

    @staticmethod
    def enum(graphql_type: GraphQLEnumType, value: ColumnElement[Any]) -> ColumnElement[Any]:
        """The enum's GraphQL name for the stored value, from the schema's own enum values."""
        pairs = [(str(getattr(v.value, "value", v.value)), name) for name, v in graphql_type.values.items()]
        text = cast(value, Text)
        if all(stored == name for stored, name in pairs):
            return text
        return case(*[(text == literal(stored, String), literal(name, String)) for stored, name in pairs])

    # --- relations ------------------------------------------------------------------------------------------

    def relation(self, relation: Relation, row: FromClause) -> ColumnElement[Any]:
        if relation.name == "region":
            assert isinstance(relation.plan, ObjectPlan)
            return (
                select(self.object(relation.plan, _R))
                .where(_R.c.code == row.c.region_code, visible(self.principal, Region))
                .scalar_subquery()
            )
        if relation.name == "programs":
            assert isinstance(relation.plan, ObjectPlan)
            element = self.object(relation.plan, _PP)
            aggregated = func.json_agg(aggregate_order_by(element, _PP.c.program))
            return (
                select(func.coalesce(aggregated, _EMPTY_LIST)).where(_PP.c.participant_id == row.c.id).scalar_subquery()
            )
        if relation.name == "claims":
            assert isinstance(relation.plan, ConnectionPlan)
            return self.claims(relation, row)
        raise NotInSql(relation.name)

    def claims(self, relation: Relation, row: FromClause) -> ColumnElement[Any]:
        """One participant's first page of visible claims (oldest first), as a connection."""
        plan = relation.plan
        assert isinstance(plan, ConnectionPlan)
        page_of = self.pages[id(relation)]
        limit = page_of.limit
        claims = _C
        scoped = and_(claims.c.participant_id == row.c.id, visible(self.principal, Claim))
        after = scoped
        if page_of.after is not None:
            after = and_(scoped, after_key(claims.c.submitted_at, claims.c.id, False, *page_of.after))
        ranked = func.row_number().over(order_by=(claims.c.submitted_at, claims.c.id))
        # Correlated to the participant row explicitly: SQLAlchemy correlates a scalar subquery only to the
        # select right around it, and these sit one level deeper.
        page = (
            select(*claims.c, ranked.label("n"))
            .where(after)
            .order_by(claims.c.submitted_at, claims.c.id)
            .limit(limit + 1)
            .correlate(row)
            .subquery("cp")
        )
        count = None
        if plan.wants_count:
            count = select(func.count()).select_from(claims).where(scoped).correlate(row).scalar_subquery()
        cursor = self.cursor(SUBMITTED_SORT, page.c.submitted_at, page.c.id)
        has_previous = literal(page_of.after is not None)
        document = select(self.connection(plan, page, page.c.n, limit, cursor, has_previous=has_previous, count=count))
        # An aggregate over the page (one row, also when it is empty) only when its rows are asked for.
        return (document.select_from(page) if plan.wants_rows else document).scalar_subquery()

    def connection(
        self,
        plan: ConnectionPlan,
        page: FromClause,
        rank: ColumnElement[int],
        limit: int,
        cursor: ColumnElement[Any],
        *,
        has_previous: ColumnElement[bool],
        count: ColumnElement[Any] | None,
    ) -> ColumnElement[Any]:
        """A connection over `page` (at most ``limit + 1`` rows ranked by `rank`); an aggregate expression.

        Cursors come back as `cursor` (a row's sort key, see :meth:`cursor`); :class:`Finish` encodes them.
        """
        on_page = rank <= limit
        parts: list[Any] = []
        for key, kind, sub in plan.items:
            parts.append(literal(key, String))
            if kind == "__typename":
                parts.append(literal(sub, String))
            elif kind == "totalCount":
                assert count is not None
                parts.append(count)
            elif kind == "pageInfo":
                values = {"hasNextPage": func.count() > limit, "hasPreviousPage": has_previous}
                info: list[Any] = []
                for info_key, name in sub:
                    value: ColumnElement[Any]
                    if name in ("startCursor", "endCursor"):
                        keys = func.json_agg(aggregate_order_by(cursor, rank)).filter(on_page)
                        value = keys.op("->")(literal(0 if name == "startCursor" else -1, Integer))
                    else:
                        value = values[name]
                    info += [literal(info_key, String), value]
                parts.append(func.json_build_object(*info))
            else:
                edge_typename, edge_items = sub
                edge: list[Any] = []
                for edge_key, edge_kind in edge_items:
                    edge.append(literal(edge_key, String))
                    if edge_kind == "node":
                        edge.append(self.object(plan.node, page))
                    elif edge_kind == "cursor":
                        edge.append(cursor)
                    else:
                        edge.append(literal(edge_typename, String))
                edges = func.json_agg(aggregate_order_by(func.json_build_object(*edge), rank)).filter(on_page)
                parts.append(func.coalesce(edges, _EMPTY_LIST))
        return func.json_build_object(*parts)

    @staticmethod
    def cursor(sort: SortKey, column: ColumnElement[Any], row_id: ColumnElement[Any]) -> ColumnElement[Any]:
        """A row's cursor before encoding: ``[sort value in its cursor form, id]``.

        The SQL twin of ``schema.core.pagination``'s value encoding (a datetime as ``{"t": "dt", "v": isoformat}``,
        a date as ``{"t": "d", "v": isoformat}``); :class:`Finish` turns it into the cursor text with
        ``encode_cursor_of_encoded``, so the JSON and base64 of a cursor are Python's own.
        """
        value: ColumnElement[Any]
        if sort.value_type is dt.datetime:
            value = func.json_build_object(
                literal("t", String), literal("dt", String), literal("v", String), _isoformat(column)
            )
        elif sort.value_type is dt.date:
            as_text = func.to_char(column, literal("YYYY-MM-DD", String))
            value = func.json_build_object(literal("t", String), literal("d", String), literal("v", String), as_text)
        else:
            value = column
        return func.json_build_array(value, row_id)


class Finish:
    """After ``orjson.loads`` of a JSON statement's result: what the database leaves to Python.

    Cursors are encoded from the sort keys the statement returned (``schema.core.pagination``'s encoding), and
    with ``pii:read`` each object's row id (:data:`ROW_ID`) is taken out and the personal fields it returned
    are noted for the access log exactly as the row path notes them: every personal field that is not null.
    """

    def __init__(self, pii_notes: list[tuple[str, object, str]]) -> None:
        self.notes = pii_notes
        #: Per object plan (by identity), its personal leaves as (JSON key, field name): worked out once per
        #: page, not once per object and leaf.
        self._personal: dict[int, list[tuple[str, str]]] = {}

    def connection(self, plan: ConnectionPlan, value: Any, sort: SortKey, descending: bool) -> None:
        if value is None:
            return
        for key, kind, sub in plan.items:
            if kind == "pageInfo":
                info = value[key]
                for info_key, name in sub:
                    if name in ("startCursor", "endCursor") and info[info_key] is not None:
                        info[info_key] = encode_cursor_of_encoded(sort, descending, *info[info_key])
            elif kind == "edges":
                for edge in value[key]:
                    for edge_key, edge_kind in sub[1]:
                        if edge_kind == "cursor":
                            edge[edge_key] = encode_cursor_of_encoded(sort, descending, *edge[edge_key])
                        elif edge_kind == "node":
                            self.object(plan.node, edge[edge_key])

    def object(self, plan: ObjectPlan, value: Any) -> None:
        if value is None:
            return
        row_id = value.pop(ROW_ID, None)
        for item in plan.items:
            if isinstance(item, Relation) and item.name == "claims":
                assert isinstance(item.plan, ConnectionPlan)
                self.connection(item.plan, value[item.key], SUBMITTED_SORT, False)
        if row_id is not None:
            for key, name in self.personal_leaves(plan):
                if value[key] is not None:
                    self.notes.append((plan.typename, row_id, name))

    def personal_leaves(self, plan: ObjectPlan) -> list[tuple[str, str]]:
        """The leaves of `plan` that are personal data (``auth.policy.personal_columns``), in plan order."""
        found = self._personal.get(id(plan))
        if found is None:
            personal = personal_columns(_MODELS[plan.typename])
            found = [(i.key, i.name) for i in plan.items if isinstance(i, Leaf) and i.column in personal]
            self._personal[id(plan)] = found
        return found

    def objects(self, plan: ObjectPlan, values: list[Any]) -> None:
        for value in values:
            self.object(plan, value)


def _isoformat(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """Python's ``datetime.isoformat()`` of a UTC timestamp: microseconds only when there are any."""
    utc = func.timezone(literal("UTC", String), value)
    whole = func.to_char(utc, literal('YYYY-MM-DD"T"HH24:MI:SS', String))
    micro = cast(func.date_part(literal("microseconds", String), utc), Integer) % 1_000_000
    fraction = case((micro != 0, func.to_char(utc, literal(".US", String))), else_=literal("", String))
    return case((value.is_(None), None), else_=whole.concat(fraction).concat(literal("+00:00", String)))


__all__ = ["ROW_ID", "Finish", "JsonBuilder", "NestedPage", "NotInSql", "covers"]
