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

What stays with the row-by-row path (:mod:`schema.compiled.run`): SQLite, cursors (``cursor``,
``startCursor``, ``endCursor``) and nested ``after`` (their encoding is Python's), ``_entities``, and
callers with ``pii:read`` whose plan returns personal fields (the access log needs each row's id, which the
row path notes as it goes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from graphql import GraphQLEnumType, GraphQLObjectType, GraphQLScalarType, GraphQLSchema
from sqlalchemy import (
    Boolean,
    ColumnElement,
    FromClause,
    Integer,
    String,
    Text,
    and_,
    case,
    cast,
    false,
    func,
    literal,
    literal_column,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by

from auth.policy import personal_columns, pii_visible, shown_sql, visible
from auth.principal import Principal
from domain.claims.models import Claim
from domain.participants.models import Participant, ParticipantProgram
from domain.regions.models import Region
from schema.compiled.plan import ConnectionPlan, Leaf, ObjectPlan, OperationPlan, Relation, Typename

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


@dataclass
class JsonCounters:
    """Root fields answered by one JSON statement (tests check that the cases meant for it reach it)."""

    roots: int = 0
    #: Of those, how many ran as SQL text compiled earlier (schema.compiled.sql_text), not as Core.
    texts: int = 0


JSON_COUNTERS = JsonCounters()


class NotInSql(Exception):
    """Part of the plan cannot be rendered by the database exactly as the schema would; use the row path."""


def covers(plan: OperationPlan, principal: Principal) -> bool:
    """Whether every root of `plan` can be answered by one JSON statement for `principal`."""
    pii = pii_visible(principal)
    for root in plan.roots:
        if root.name not in ("participant", "participants"):
            return False
        if not _covers(root.plan, pii):
            return False
    return True


def _covers(plan: ObjectPlan | ConnectionPlan, pii: bool) -> bool:
    if isinstance(plan, ConnectionPlan):
        if plan.wants_cursors:
            return False
        return _covers(plan.node, pii)
    model = _MODELS.get(plan.typename)
    if model is None:
        return False
    for item in plan.items:
        if isinstance(item, Leaf):
            # With pii:read, unmasked personal values are noted per row for the access log: the row path does.
            if pii and item.column in personal_columns(model, wage_based=True):
                return False
        elif isinstance(item, Relation):
            if item.name == "claims" and any(a.name.value == "after" for a in item.node.arguments or ()):
                return False
            if not _covers(item.plan, pii):
                return False
    return True


class JsonBuilder:
    """Builds the JSON expressions of a plan for one principal shape (the statement is cached per shape)."""

    def __init__(self, schema: GraphQLSchema, principal: Principal, limits: dict[int, int]) -> None:
        self.schema = schema
        self.principal = principal
        #: ``first`` of each nested connection, by ``id(relation)`` (checked by the caller, as the resolvers do).
        self.limits = limits

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
        return func.json_build_object(*parts)

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
        named = graphql_type.fields[leaf.name].type
        while hasattr(named, "of_type"):
            named = named.of_type
        if isinstance(named, GraphQLEnumType):
            return self.enum(named, value)
        assert isinstance(named, GraphQLScalarType)
        if named.name == "DateTime":
            return _isoformat(value)
        if named.name == "Date":
            return func.to_char(value, literal("YYYY-MM-DD", String))
        if named.name == "Decimal":
            return cast(value, Text)
        if named.name in ("String", "ID"):
            return cast(value, Text)
        if named.name == "Int":
            return type_coerce(value, Integer)
        if named.name == "Boolean":
            return type_coerce(value, Boolean)
        raise NotInSql(named.name)

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
        limit = self.limits[id(relation)]
        claims = _C
        scoped = and_(claims.c.participant_id == row.c.id, visible(self.principal, Claim))
        ranked = func.row_number().over(order_by=(claims.c.submitted_at, claims.c.id))
        # Correlated to the participant row explicitly: SQLAlchemy correlates a scalar subquery only to the
        # select right around it, and these sit one level deeper.
        page = (
            select(*claims.c, ranked.label("n"))
            .where(scoped)
            .order_by(claims.c.submitted_at, claims.c.id)
            .limit(limit + 1)
            .correlate(row)
            .subquery("cp")
        )
        count = None
        if plan.wants_count:
            count = select(func.count()).select_from(claims).where(scoped).correlate(row).scalar_subquery()
        document = select(self.connection(plan, page, page.c.n, limit, has_previous=false(), count=count))
        # An aggregate over the page (one row, also when it is empty) only when its rows are asked for.
        return (document.select_from(page) if plan.wants_rows else document).scalar_subquery()

    def connection(
        self,
        plan: ConnectionPlan,
        page: FromClause,
        rank: ColumnElement[int],
        limit: int,
        *,
        has_previous: ColumnElement[bool],
        count: ColumnElement[Any] | None,
    ) -> ColumnElement[Any]:
        """A connection over `page` (at most ``limit + 1`` rows ranked by `rank`); an aggregate expression."""
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
                    info += [literal(info_key, String), values[name]]
                parts.append(func.json_build_object(*info))
            else:
                edge_typename, edge_items = sub
                edge: list[Any] = []
                for edge_key, edge_kind in edge_items:
                    edge.append(literal(edge_key, String))
                    if edge_kind == "node":
                        edge.append(self.object(plan.node, page))
                    else:
                        edge.append(literal(edge_typename, String))
                edges = func.json_agg(aggregate_order_by(func.json_build_object(*edge), rank)).filter(rank <= limit)
                parts.append(func.coalesce(edges, _EMPTY_LIST))
        return func.json_build_object(*parts)


def _isoformat(value: ColumnElement[Any]) -> ColumnElement[Any]:
    """Python's ``datetime.isoformat()`` of a UTC timestamp: microseconds only when there are any."""
    utc = func.timezone(literal("UTC", String), value)
    whole = func.to_char(utc, literal('YYYY-MM-DD"T"HH24:MI:SS', String))
    micro = cast(func.date_part(literal("microseconds", String), utc), Integer) % 1_000_000
    fraction = case((micro != 0, func.to_char(utc, literal(".US", String))), else_=literal("", String))
    return case((value.is_(None), None), else_=whole.concat(fraction).concat(literal("+00:00", String)))


__all__ = ["JSON_COUNTERS", "JsonBuilder", "NotInSql", "covers"]
