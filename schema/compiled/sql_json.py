"""One statement per root field, the JSON built by the database: PostgreSQL and SQLite, one builder.

For a plan whose every part the database can render exactly as the schema serialises it, the whole value
of a root field — the participant, its region, programmes and page of claims, a claim with its benefit
lines and status history, or a page of participants with all of that per row, ``totalCount`` and
``hasNextPage`` — comes back as one JSON text from one statement; nested relations are correlated
subqueries (the claims page with its own ``LIMIT``), so the statements per request do not grow with the
page.

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

``_entities`` is one statement per type present (Participant, Claim, PovertyBeneficiary, Region), whatever the
number of representations: the keys go in as two parallel arrays (``unnest … WITH ORDINALITY``) on
PostgreSQL, as one bound JSON array of ``[id, number]`` pairs (``json_each``, in its order) on SQLite; each
slot is the object it names when the caller may see it and ``null`` otherwise (a row outside the caller's
regions reads like no row), in the
representations' order; malformed representations are refused before, by the resolvers' own checks.

For a caller with ``pii:read``, an object that returns personal fields also carries its row id (under
:data:`ROW_ID`, a key no GraphQL name can take); :class:`Finish` takes it out and notes the fields for the
personal-data access log exactly as the resolvers note them, so the log's rows are the same on both paths.

The builder is one for both databases; where they differ, :class:`Dialect` has one small method per
construct (``json_build_object``/``json_object``, ``json_agg … ORDER BY``/``json_group_array`` over an
ordered subquery, ``to_char``/the stored text, ``encode(…, 'base64')``/base64 in SQL, …). This is the only
compiled engine: a plan it does not cover goes to the resolvers. The roots compiled at all are
``participant``, ``participants``, ``claim``, ``claims``, ``beneficiary``, ``beneficiaries``, ``region``,
``regions``, and ``_entities`` (one statement per type present) and ``node`` of these four types (a claim's
or a beneficiary's ``participant`` is re-scoped by the participants' ``visible``, as the resolvers' loader
does; a region's ``parent``, ``children`` and ``ancestors`` are among the regions ``visible(Region)`` shows,
as the region loaders read them). The nested connections (a participant's claims and payments) are paged
from the resolvers' own declarations (:data:`NESTED`, ``schema.core.nested``).
"""

from __future__ import annotations

import base64
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from graphql import (
    GraphQLEnumType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    get_named_type,
)
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
    bindparam,
    case,
    cast,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by

from auth.policy import logged_as, logged_under, personal_columns, pii_visible, shown_sql, visible
from auth.principal import Principal
from domain.audit.access import PersonalDataReads
from domain.beneficiaries.models import LATEST_SNAPSHOT, PovertyBeneficiary
from domain.claims.models import Claim, ClaimBenefit, ClaimEvent
from domain.participants.models import Contribution, Employer, Participant, ParticipantProgram
from domain.participants.status import status_sql
from domain.regions.models import Region
from schema.claims.queries import PARTICIPANT_CLAIMS
from schema.compiled.plan import ConnectionPlan, Leaf, ObjectPlan, OperationPlan, Relation, TypedPlans, Typename
from schema.core.nested import ChildPages
from schema.core.pagination import SortKey, after_key, encode_cursor_of_encoded
from schema.participants.contributions import PARTICIPANT_CONTRIBUTIONS

_P = Participant.__table__
_R = Region.__table__
_PP = ParticipantProgram.__table__
_CE = ClaimEvent.__table__
_CB = ClaimBenefit.__table__
_PB = PovertyBeneficiary.__table__
_E = Employer.__table__

#: The table behind each GraphQL type the JSON statements build (run.py looks up ``node``'s types here too).
MODELS: dict[str, type[Any]] = {
    "Participant": Participant,
    "Claim": Claim,
    "Region": Region,
    "ProgramEnrolment": ParticipantProgram,
    "ClaimStatusEvent": ClaimEvent,
    "ClaimBenefit": ClaimBenefit,
    "Contribution": Contribution,
    "EmployerType": Employer,
    "PovertyBeneficiary": PovertyBeneficiary,
}


class NotInSql(Exception):
    """Part of the plan cannot be rendered by the database exactly as the schema would.

    :func:`covers` refuses such a plan before a statement is built (the resolvers answer it), so reaching
    this is a bug of this module, never an answer to a request.
    """


#: The nested connections, by (parent type, field): the declarations the resolvers page them by.
NESTED: dict[tuple[str, str], ChildPages[Any]] = {
    ("Participant", "claims"): PARTICIPANT_CLAIMS,
    ("Participant", "contributions"): PARTICIPANT_CONTRIBUTIONS,
}

#: How each GraphQL scalar is rendered in SQL exactly as the schema's ``serialize`` would render it; each
#: gets the dialect's constructs (:class:`Dialect`), the value, and the column's type.
_SCALAR_SQL: dict[str, Callable[[Dialect, ColumnElement[Any], Any], ColumnElement[Any]]] = {
    "DateTime": lambda sql, value, _type: sql.isoformat(value),
    "Date": lambda sql, value, _type: sql.date(value),
    "Decimal": lambda sql, value, column_type: sql.decimal(value, column_type),
    "String": lambda _sql, value, _type: cast(value, Text),
    "ID": lambda _sql, value, _type: cast(value, Text),
    "Int": lambda _sql, value, _type: type_coerce(value, Integer),
    "Boolean": lambda sql, value, _type: sql.boolean(value),
}
#: The scalars (besides enums) a JSON statement may carry; a plan asking for any other one goes to the resolvers.
SQL_SCALARS = frozenset(_SCALAR_SQL)
#: The relations :meth:`JsonBuilder.relation` joins in SQL.
SQL_RELATIONS = frozenset(
    {
        *("region", "programs", "history", "benefits", "participant", "beneficiary", "employer"),
        *("parent", "children", "ancestors"),
        *(n for _, n in NESTED),
    }
)


def covers(plan: OperationPlan, schema: GraphQLSchema) -> bool:
    """Whether every root of `plan` can be answered by one JSON statement (every type, scalar and relation)."""
    return all(root.name in _ROOTS and _covers(root.plan, schema) for root in plan.roots)


_ROOTS = frozenset(
    {
        "participant",
        "participants",
        "claim",
        "claims",
        "beneficiary",
        "beneficiaries",
        "region",
        "regions",
        "_entities",
        "node",
    }
)


def _covers(plan: ObjectPlan | ConnectionPlan | TypedPlans, schema: GraphQLSchema) -> bool:
    if isinstance(plan, TypedPlans):
        return all(_covers(typed, schema) for typed in plan.plans.values())
    if isinstance(plan, ConnectionPlan):
        return _covers(plan.node, schema)
    graphql_type = schema.get_type(plan.typename)
    if plan.typename not in MODELS or not isinstance(graphql_type, GraphQLObjectType):
        return False
    columns = MODELS[plan.typename].__table__.c
    for item in plan.items:
        if isinstance(item, Relation) and not (item.name in SQL_RELATIONS and _covers(item.plan, schema)):
            return False
        if isinstance(item, Leaf) and not _in_sql(graphql_type.fields[item.name].type, item, columns[item.column]):
            return False
    return True


#: Text columns holding a list of codes separated by single spaces, served as a list of strings (a payment's
#: programmes, ``"JKK JKM"``: ``ContributionNode.from_row`` splits them).
_WORDS = frozenset({("contributions", "programs")})


def _is_list(graphql_type: Any) -> bool:
    return isinstance(graphql_type.of_type if isinstance(graphql_type, GraphQLNonNull) else graphql_type, GraphQLList)


def _in_sql(graphql_type: Any, leaf: Leaf, column: Any) -> bool:
    """Whether a leaf renders on both databases: a known scalar or an enum, and what its rendering needs of
    the column (a global id's key of bounded length, a decimal's scale: :class:`Dialect`)."""
    if leaf.name == "id":
        return isinstance(column.type, Integer) or isinstance(getattr(column.type, "length", None), int)
    if _is_list(graphql_type) != ((column.table.name, column.key) in _WORDS):
        return False  # a list leaf renders only from a column of words
    named = get_named_type(graphql_type)
    if isinstance(named, GraphQLEnumType):
        return True
    if not (isinstance(named, GraphQLScalarType) and named.name in SQL_SCALARS):
        return False
    return named.name != "Decimal" or getattr(column.type, "scale", None) is not None


@dataclass(frozen=True, slots=True)
class NestedPage:
    """A nested page (claims, payments): its ``first`` (checked as the resolvers check it) and its ``after``
    cursor's (sort value, id) as bind parameters, so that compiled text can be run again with another cursor."""

    limit: int
    after: tuple[BindParameter[Any], BindParameter[Any]] | None = None


#: The key under which an object carries its row id for the personal-data access log (not a GraphQL name,
#: so it cannot meet a response key); :class:`Finish` removes it.
ROW_ID = "#id"


_BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


class Dialect:
    """The constructs in which PostgreSQL and SQLite differ, one small method each; the builder is one.

    PostgreSQL: ``json_build_object``, ``json_agg(… ORDER BY …)``, ``to_char``, ``encode(…, 'base64')``.
    SQLite (3.38+, JSON functions built in): ``json_object``, ``json_group_array`` — which takes no
    ``ORDER BY`` before 3.44, so the rows it aggregates come from a subquery with its own ``ORDER BY`` (for
    an aggregate that reads such a subquery alone and orders nothing itself, SQLite neither flattens the
    subquery nor drops its ORDER BY, and feeds the rows in that order; the differential test's programmes,
    pages and representations hold it to that) — and a JSON value from a subquery wrapped in ``json()``
    (SQLite hands a subquery's value on as text, without the mark that makes ``json_object`` embed it as
    JSON). SQLAlchemy's SQLite types store dates as ``YYYY-MM-DD`` text, datetimes as ``YYYY-MM-DD
    HH:MM:SS.ffffff`` text, decimals as REAL and booleans as 0/1.
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self.sqlite = name == "sqlite"

    def object(self, *parts: Any) -> ColumnElement[Any]:
        return func.json_object(*parts) if self.sqlite else func.json_build_object(*parts)

    def array(self, *parts: Any) -> ColumnElement[Any]:
        return func.json_array(*parts) if self.sqlite else func.json_build_array(*parts)

    def words(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        """A JSON array of the words of a text of single-space-separated codes (``[]`` for an empty one)."""
        if self.sqlite:
            quoted = literal('["', String).concat(func.replace(value, literal(" ", String), literal('","', String)))
            return case((value == literal("", String), func.json_array()), else_=func.json(quoted.concat('"]')))
        return func.array_to_json(func.string_to_array(value, literal(" ", String)))

    def nested(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        """A JSON value from a (scalar) subquery, embedded as JSON in the object around it."""
        return func.json(value) if self.sqlite else value

    def agg(self, element: ColumnElement[Any], order_by: Any, where: ColumnElement[bool] | None = None) -> Any:
        """A JSON array of `element` over the rows, in `order_by` (a column or a tuple of them; on SQLite: the
        order of the rows' subquery, which the caller sorts by the same key); ``[]`` when there are none."""
        if self.sqlite:
            aggregated = func.json_group_array(element)  # '[]' over no rows, never NULL
            return aggregated if where is None else aggregated.filter(where)
        keys = order_by if isinstance(order_by, tuple) else (order_by,)
        ordered = func.json_agg(aggregate_order_by(element, *keys))
        return func.coalesce(ordered if where is None else ordered.filter(where), literal_column("'[]'::json"))

    def element(self, array: ColumnElement[Any], last: bool) -> ColumnElement[Any]:
        """The first (or last) element of a JSON array, as JSON; NULL for an empty array."""
        if self.sqlite:
            return array.op("->")(literal("$[#-1]" if last else "$[0]", String))
        return array.op("->")(literal(-1 if last else 0, Integer))

    def boolean(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        if not self.sqlite:
            return type_coerce(value, Boolean)
        # 0/1 in SQLite: JSON true/false (json() of NULL stays NULL).
        return func.json(case((value, literal("true", String)), (not_(value), literal("false", String))))

    def date(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        if self.sqlite:
            return func.substr(value, 1, 10)  # stored as YYYY-MM-DD
        return func.to_char(value, literal("YYYY-MM-DD", String))

    def decimal(self, value: ColumnElement[Any], column_type: Any) -> ColumnElement[Any]:
        """The decimal's text, as many places as its column's scale (PostgreSQL keeps the scale itself)."""
        if not self.sqlite:
            return cast(value, Text)
        # Stored as REAL; SQLAlchemy reads it back quantized to the column's scale, which this prints.
        scale = getattr(column_type, "scale", None)
        if scale is None:
            raise NotInSql("Decimal without a scale")
        return case((value.is_(None), None), else_=func.printf(literal(f"%.{int(scale)}f", String), value))

    def isoformat(self, value: ColumnElement[Any]) -> ColumnElement[Any]:
        """Python's ``datetime.isoformat()`` of a UTC timestamp: microseconds only when there are any."""
        if self.sqlite:
            # Stored as UTC 'YYYY-MM-DD HH:MM:SS.ffffff' (SQLAlchemy's SQLite DATETIME; domain.db.UTCDateTime).
            digits = func.substr(func.substr(value, 21).concat(literal("000000", String)), 1, 6)
            seconds = func.substr(value, 1, 10).concat(literal("T", String)).concat(func.substr(value, 12, 8))
            shown = case((cast(digits, Integer) != 0, literal(".", String).concat(digits)), else_=literal("", String))
            return case((value.is_(None), None), else_=seconds.concat(shown).concat(literal("+00:00", String)))
        utc = func.timezone(literal("UTC", String), value)
        whole = func.to_char(utc, literal('YYYY-MM-DD"T"HH24:MI:SS', String))
        micro = cast(func.date_part(literal("microseconds", String), utc), Integer) % 1_000_000
        fraction = case((micro != 0, func.to_char(utc, literal(".US", String))), else_=literal("", String))
        return case((value.is_(None), None), else_=whole.concat(fraction).concat(literal("+00:00", String)))

    def global_id(self, typename: str, column: ColumnElement[Any]) -> ColumnElement[Any]:
        """Strawberry's global id: base64("Type:id"), standard alphabet with padding (``to_base64``)."""
        if not self.sqlite:
            text = literal(f"{typename}:", String).concat(cast(column, Text))
            return func.encode(func.convert_to(text, literal("UTF8", String)), literal("base64", String))
        # SQLite has no base64: the whole 3-byte groups of the prefix are a constant, the rest (at most two
        # characters of the prefix, then the key) is encoded group by group. Keys are ASCII (integer ids,
        # region codes), one byte per character, as unicode() reads them.
        prefix = f"{typename}:".encode()
        whole = len(prefix) - len(prefix) % 3
        head = base64.b64encode(prefix[:whole]).decode()
        rest = literal(prefix[whole:].decode(), String).concat(cast(column, Text))
        longest = len(prefix) - whole + _key_length(column)
        groups: list[ColumnElement[Any]] = [literal(head, String)] if head else []
        for group in range(-(-longest // 3)):
            groups.append(_base64_group(rest, group))
        encoded = groups[0]
        for more in groups[1:]:
            encoded = encoded.concat(more)
        return case((column.is_(None), None), else_=encoded)

    def entity_keys(self, ids: list[Any], numbers: list[Any]) -> tuple[list[BindParameter[Any]], list[Any]]:
        """The representations' keys as bind parameters (one slot each: an integer id, or a text key — a
        participant's membership number, a region's code) and their values: two parallel arrays on PostgreSQL,
        one JSON array of ``[id, text key]`` on SQLite."""
        if self.sqlite:
            pairs = orjson.dumps([[i, n] for i, n in zip(ids, numbers, strict=True)]).decode()
            return [bindparam("keys", pairs, type_=Text)], [pairs]
        id_array: BindParameter[Any] = bindparam("ids", ids, type_=ARRAY(BigInteger))
        number_array: BindParameter[Any] = bindparam("numbers", numbers, type_=ARRAY(Text))
        return [id_array, number_array], [ids, numbers]

    def entity_rows(self, keys: list[BindParameter[Any]]) -> FromClause:
        """One row per representation: ``id``, ``number`` and its position ``ord``; in order on SQLite."""
        if self.sqlite:
            each = func.json_each(keys[0]).table_valued("key", "value")
            return (
                select(
                    each.c.key.label("ord"),
                    func.json_extract(each.c.value, literal("$[0]", String)).label("id"),
                    func.json_extract(each.c.value, literal("$[1]", String)).label("number"),
                )
                .order_by(each.c.key)
                .subquery("reps")
            )
        return (
            func.unnest(cast(keys[0], ARRAY(BigInteger)), cast(keys[1], ARRAY(Text)))
            .table_valued("id", "number", with_ordinality="ord")
            .render_derived("reps")
        )

    def ordered(self, rows: Select[Any], order_by: Any, name: str | None) -> FromClause | None:
        """On SQLite, `rows` sorted in a subquery for :meth:`agg` to aggregate in order (None on PostgreSQL)."""
        keys = order_by if isinstance(order_by, tuple) else (order_by,)
        return rows.order_by(*keys).subquery(name) if self.sqlite else None


def _key_length(column: ColumnElement[Any]) -> int:
    """The longest text a key column can have: its declared length, or an integer's 20 characters."""
    length = getattr(column.type, "length", None)
    if isinstance(length, int):
        return length
    if isinstance(column.type, Integer):
        return 20
    raise NotInSql(f"a global id over {column.type!r}")


def _base64_group(text: ColumnElement[Any], group: int) -> ColumnElement[Any]:
    """The four base64 characters of the `group`-th three characters of `text` ('' past its end)."""

    def byte(n: int) -> ColumnElement[Any]:
        return func.unicode(func.substr(text, 3 * group + n + 1, 1))

    def char(index: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.substr(literal(_BASE64, String), index + 1, 1)

    b1, b2, b3 = byte(0), byte(1), byte(2)
    two, three = func.coalesce(b2, 0), func.coalesce(b3, 0)
    pad = literal("=", String)
    encoded = (
        char(b1.op(">>")(2))
        .concat(char(b1.op("&")(3).op("<<")(4).op("|")(two.op(">>")(4))))
        .concat(case((b2.is_(None), pad), else_=char(two.op("&")(15).op("<<")(2).op("|")(three.op(">>")(6)))))
        .concat(case((b3.is_(None), pad), else_=char(three.op("&")(63))))
    )
    return case((func.length(text) <= 3 * group, literal("", String)), else_=encoded)


class JsonBuilder:
    """Builds the JSON expressions of a plan for one principal shape (the statement is cached per shape)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        principal: Principal,
        pages: dict[int, NestedPage],
        today: dt.date,
        dialect: str,
    ) -> None:
        self.schema = schema
        #: Where the two databases differ (``postgresql`` or ``sqlite``): part of the statement cache key.
        self.sql = Dialect(dialect)
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
        model = MODELS[plan.typename]
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
                parts.append(self.relation(plan.typename, item, row))
        if self.pii and any(isinstance(i, Leaf) and i.column in personal_columns(model) for i in plan.items):
            parts += [literal(ROW_ID, String), row.c[logged_under(model)]]
        return self.sql.object(*parts)

    def entities(self, plan: ObjectPlan, keys: list[BindParameter[Any]]) -> Select[Any]:
        """``_entities`` of one type's representations: a JSON array in the representations' order.

        `keys` are :meth:`Dialect.entity_keys`, one slot per representation: its id (or NULL) and, for a
        participant, its membership number (or NULL); for a region, its code (in the text slot). Each slot
        is the object it names if the caller may see it, else ``null`` — the same answer for a row outside
        the caller's regions as for no row at all.
        """
        model = MODELS[plan.typename]
        table = model.__table__
        reps = self.sql.entity_rows(keys)
        if model is Region:  # keyed by its code, the text slot
            found = table.c.code == reps.c.number
        else:
            found = table.c.id == reps.c.id
            if model is Participant:
                found = or_(found, table.c.membership_number == reps.c.number)
        entity = select(self.object(plan, table)).where(found, visible(self.principal, model)).scalar_subquery()
        return select(cast(self.sql.agg(self.sql.nested(entity), reps.c.ord), Text)).select_from(reps)

    def leaf(
        self, typename: str, model: type[Any], graphql_type: GraphQLObjectType, leaf: Leaf, row: FromClause
    ) -> ColumnElement[Any]:
        column = row.c[leaf.column]
        if leaf.name == "id":
            return self.sql.global_id(typename, column)
        program = row.c.get("program")
        value: ColumnElement[Any] = column
        if leaf.column in personal_columns(model, wage_based=True):
            # A payment says itself whether its amount reveals a wage; a claim's (or a line's) programme does.
            reveals = Contribution.reveals_wage_sql(row.c.payer) if model is Contribution else None
            value = shown_sql(self.principal, model, leaf.column, column, program, wage_based=reveals)
        elif model is Participant and leaf.column == "status":
            value = status_sql(column, row.c.paid_through, self.today)
        elif model is PovertyBeneficiary and leaf.name == "enrolled":
            value = column.is_not(None)  # as BeneficiaryNode.from_row: a linked participant
        if (model.__tablename__, leaf.column) in _WORDS:
            return self.sql.words(value)
        named = get_named_type(graphql_type.fields[leaf.name].type)
        if isinstance(named, GraphQLEnumType):
            return self.enum(named, value)
        render = _SCALAR_SQL.get(named.name)
        if render is None:
            raise NotInSql(named.name)
        return render(self.sql, value, column.type)

    @staticmethod
    def enum(graphql_type: GraphQLEnumType, value: ColumnElement[Any]) -> ColumnElement[Any]:
        """The enum's GraphQL name for the stored value, from the schema's own enum values."""
        pairs = [(str(getattr(v.value, "value", v.value)), name) for name, v in graphql_type.values.items()]
        text = cast(value, Text)
        if all(stored == name for stored, name in pairs):
            return text
        return case(*[(text == literal(stored, String), literal(name, String)) for stored, name in pairs])

    # --- relations ------------------------------------------------------------------------------------------

    def relation(self, typename: str, relation: Relation, row: FromClause) -> ColumnElement[Any]:
        if relation.name == "region":
            assert isinstance(relation.plan, ObjectPlan)
            return self.one(relation.plan, Region, _R.c.code == row.c.region_code, row)
        if relation.name in ("parent", "children", "ancestors"):
            assert isinstance(relation.plan, ObjectPlan)
            return self.sql.nested(self.region_tree(relation.name, relation.plan, row))
        if relation.name == "programs":
            assert isinstance(relation.plan, ObjectPlan)
            mine = _PP.c.participant_id == row.c.id
            ordered = self.sql.ordered(select(*_PP.c).where(mine).correlate(row), _PP.c.program, "pp")
            source = _PP if ordered is None else ordered
            aggregated = self.sql.agg(self.object(relation.plan, source), source.c.program)
            programs = select(aggregated)
            programs = programs.where(mine) if ordered is None else programs.select_from(ordered)
            return self.sql.nested(programs.scalar_subquery())
        if relation.name == "history":
            # A claim's status events, oldest first (as the resolvers' loader orders them); a visible claim's
            # history is the claim's own, so no scope of its own.
            assert isinstance(relation.plan, ObjectPlan)
            mine = _CE.c.claim_id == row.c.id
            order = (_CE.c.at, _CE.c.id)
            ordered = self.sql.ordered(select(*_CE.c).where(mine).correlate(row), order, "ce")
            source = _CE if ordered is None else ordered
            aggregated = self.sql.agg(self.object(relation.plan, source), (source.c.at, source.c.id))
            events = select(aggregated)
            events = events.where(mine) if ordered is None else events.select_from(ordered)
            return self.sql.nested(events.scalar_subquery())
        if relation.name == "benefits":
            # A claim's benefit lines in id order (as the resolvers' loader), each carrying its claim's
            # programme: on a wage-based programme the amounts are withheld without pii:read (shown_sql reads
            # the row's ``program``, as ``shown`` is given the claim's).
            assert isinstance(relation.plan, ObjectPlan)
            lines = (
                select(*_CB.c, row.c.program.label("program"))
                .where(_CB.c.claim_id == row.c.id)
                .order_by(_CB.c.id)
                .correlate(row)
                .subquery("cb")
            )
            aggregated = self.sql.agg(self.object(relation.plan, lines), lines.c.id)
            return self.sql.nested(select(aggregated).select_from(lines).scalar_subquery())
        if relation.name == "participant":
            # A claim's (or a beneficiary's) participant, re-scoped by the participants' own rule (as the
            # resolvers' loader does): one outside the caller's regions reads null, and so does none at all.
            # Correlated to the row only, so that the participants table inside is its own even under a
            # participant's page of claims.
            assert isinstance(relation.plan, ObjectPlan)
            return self.one(relation.plan, Participant, _P.c.id == row.c.participant_id, row)
        if relation.name == "employer":
            # A wage earner's employer, scoped by the employers' own rule (as the resolvers' loader).
            assert isinstance(relation.plan, ObjectPlan)
            return self.one(relation.plan, Employer, _E.c.id == row.c.employer_id, row)
        if relation.name == "beneficiary":
            # A participant's poverty-registry record: the rows linked to it that the caller may see by the
            # beneficiaries' own rule, the latest snapshot first (LATEST_SNAPSHOT, as the resolvers' loader).
            assert isinstance(relation.plan, ObjectPlan)
            latest = tuple(_PB.c[column].desc() for column in LATEST_SNAPSHOT)
            return self.one(relation.plan, PovertyBeneficiary, _PB.c.participant_id == row.c.id, row, latest=latest)
        spec = NESTED.get((typename, relation.name))
        if spec is not None:
            assert isinstance(relation.plan, ConnectionPlan)
            return self.sql.nested(self.child_page(spec, relation, row))
        raise NotInSql(relation.name)

    def one(
        self,
        plan: ObjectPlan,
        model: type[Any],
        names: ColumnElement[bool],
        row: FromClause,
        *,
        latest: tuple[Any, ...] = (),
    ) -> ColumnElement[Any]:
        """The `model` row that `names` points at from `row`, if the caller may see it by `model`'s own rule
        (``visible``, as the resolvers' loaders read it), as a JSON object; null when none or not visible.
        `latest` orders the rows when `names` may match several (the first is the answer). Correlated to `row`
        only, so a table inside is its own even under a page of the same table."""
        found = select(self.object(plan, model.__table__)).where(names, visible(self.principal, model))
        if latest:
            found = found.order_by(*latest).limit(1)
        return self.sql.nested(found.correlate(row).scalar_subquery())

    def child_page(self, spec: ChildPages[Any], relation: Relation, row: FromClause) -> ColumnElement[Any]:
        """One parent's first page of its visible child rows (`spec`: oldest first by its sort key), as a
        connection: the rows, order, keyset and visibility the resolvers page with (schema.core.nested)."""
        plan = relation.plan
        assert isinstance(plan, ConnectionPlan)
        page_of = self.pages[id(relation)]
        limit = page_of.limit
        table = spec.model.__table__
        sort, row_id = table.c[spec.sort.column.key], table.c.id
        scoped = and_(table.c[spec.parent.key] == row.c.id, spec.visible(self.principal))
        after = scoped
        if page_of.after is not None:
            after = and_(scoped, after_key(sort, row_id, False, *page_of.after))
        ranked = func.row_number().over(order_by=(sort, row_id))
        # Correlated to the parent row explicitly: SQLAlchemy correlates a scalar subquery only to the
        # select right around it, and these sit one level deeper.
        page = (
            select(*table.c, ranked.label("n"))
            .where(after)
            .order_by(sort, row_id)
            .limit(limit + 1)
            .correlate(row)
            .subquery("cp")
        )
        count = None
        if plan.wants_count:
            count = select(func.count()).select_from(table).where(scoped).correlate(row).scalar_subquery()
        cursor = self.cursor(spec.sort, page.c[sort.key], page.c.id)
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
                values = {
                    "hasNextPage": self.sql.boolean(func.count() > limit),
                    "hasPreviousPage": self.sql.boolean(has_previous),
                }
                info: list[Any] = []
                for info_key, name in sub:
                    value: ColumnElement[Any]
                    if name in ("startCursor", "endCursor"):
                        keys = self.sql.agg(cursor, rank, on_page)
                        value = self.sql.element(keys, last=name == "endCursor")
                    else:
                        value = values[name]
                    info += [literal(info_key, String), value]
                parts.append(self.sql.object(*info))
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
                parts.append(self.sql.agg(self.sql.object(*edge), rank, on_page))
        return self.sql.object(*parts)

    def cursor(self, sort: SortKey, column: ColumnElement[Any], row_id: ColumnElement[Any]) -> ColumnElement[Any]:
        """A row's cursor before encoding: ``[sort value in its cursor form, id]``.

        The SQL twin of ``schema.core.pagination``'s value encoding (a datetime as ``{"t": "dt", "v": isoformat}``,
        a date as ``{"t": "d", "v": isoformat}``); :class:`Finish` turns it into the cursor text with
        ``encode_cursor_of_encoded``, so the JSON and base64 of a cursor are Python's own.
        """
        value: ColumnElement[Any]
        if sort.value_type is dt.datetime:
            value = self.sql.object(
                literal("t", String), literal("dt", String), literal("v", String), self.sql.isoformat(column)
            )
        elif sort.value_type is dt.date:
            as_text = self.sql.date(column)
            value = self.sql.object(literal("t", String), literal("d", String), literal("v", String), as_text)
        else:
            value = column
        return self.sql.array(value, row_id)

    def region_tree(self, name: str, plan: ObjectPlan, row: FromClause) -> ColumnElement[Any]:
        """A region's ``parent``, ``children`` (by code) or ``ancestors`` (province first), among the regions the
        caller may see (``visible(Region)``, as the region loaders read them: a regency officer sees the
        province above and the districts below, not a neighbouring regency).

        The regions come from a subquery of their own (anonymous, so that a region's parent's parent and any
        regions table around it are other tables), correlated to `row` only.
        """
        regions = select(*_R.c).where(visible(self.principal, Region)).subquery()
        if name == "parent":  # none for a province: parent_code is NULL and matches nothing
            parent = select(self.object(plan, regions)).where(regions.c.code == row.c.parent_code)
            return parent.correlate(row).scalar_subquery()
        if name == "children":
            mine = regions.c.parent_code == row.c.code
        else:
            # RegionCode.ancestors: the codes above the row's own, which its placement columns hold.
            above = [row.c.province_code, row.c.regency_code, row.c.district_code]
            mine = and_(regions.c.code.in_(above), regions.c.code != row.c.code)
        # Codes sort as the tree does: an ancestor's code is a prefix of its descendants'.
        ordered = self.sql.ordered(select(*regions.c).where(mine).correlate(row), regions.c.code, None)
        source = regions if ordered is None else ordered
        listed = select(self.sql.agg(self.object(plan, source), source.c.code))
        listed = listed.where(mine) if ordered is None else listed.select_from(ordered)
        return listed.correlate(row).scalar_subquery()


class Finish:
    """After ``orjson.loads`` of a JSON statement's result: what the database leaves to Python.

    Cursors are encoded from the sort keys the statement returned (``schema.core.pagination``'s encoding), and
    with ``pii:read`` each object's row id (:data:`ROW_ID`) is taken out and the personal fields it returned
    are noted for the access log exactly as the resolvers note them: every personal field that is not null.
    """

    def __init__(self, pii_notes: PersonalDataReads, *, pii: bool) -> None:
        self.notes = pii_notes
        #: Whether the statement carried row ids for the access log (``JsonBuilder.pii``): without them there
        #: is nothing to note, and a page whose cursors nobody asked for is not walked at all.
        self.pii = pii
        #: Per object plan (by identity), its personal leaves as (JSON key, field name): worked out once per
        #: page, not once per object and leaf.
        self._personal: dict[int, list[tuple[str, str, str]]] = {}
        #: Per plan (by identity), :meth:`busy`.
        self._busy: dict[int, bool] = {}
        #: Per object plan (by identity), :meth:`busy_relations`.
        self._relations: dict[int, list[tuple[Relation, SortKey | None]]] = {}

    def connection(self, plan: ConnectionPlan, value: Any, sort: SortKey, descending: bool) -> None:
        if value is None or not self.busy(plan):
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
        for item, nested_sort in self.busy_relations(plan):
            child = value[item.key]
            if isinstance(item.plan, ConnectionPlan):  # a nested connection, oldest first by its own key
                assert nested_sort is not None
                self.connection(item.plan, child, nested_sort, False)
            elif isinstance(child, list):
                self.objects(item.plan, child)
            else:
                self.object(item.plan, child)
        if row_id is not None:
            notes = self.notes
            for key, typename, name in self.personal_leaves(plan):
                if value[key] is not None:
                    notes.note(typename, row_id, name)

    def busy_relations(self, plan: ObjectPlan) -> list[tuple[Relation, SortKey | None]]:
        """The relations of `plan` with work under them (:meth:`busy`), each with its sort key if it is a nested
        connection: worked out once per plan, not once per object."""
        found = self._relations.get(id(plan))
        if found is None:
            found = [
                (i, NESTED[(plan.typename, i.name)].sort if isinstance(i.plan, ConnectionPlan) else None)
                for i in plan.items
                if isinstance(i, Relation) and self.busy(i.plan)
            ]
            self._relations[id(plan)] = found
        return found

    def busy(self, plan: ObjectPlan | ConnectionPlan) -> bool:
        """Whether anything under `plan` is left to Python (a cursor to encode, a personal field to note with
        ``pii:read``): a region, a programme list or a page of claims under every row is not walked for
        nothing."""
        found = self._busy.get(id(plan))
        if found is None:
            if isinstance(plan, ConnectionPlan):
                found = plan.wants_cursors or self.busy(plan.node)
            else:
                found = (self.pii and bool(self.personal_leaves(plan))) or any(
                    isinstance(i, Relation) and self.busy(i.plan) for i in plan.items
                )
            self._busy[id(plan)] = found
        return found

    def personal_leaves(self, plan: ObjectPlan) -> list[tuple[str, str, str]]:
        """The leaves of `plan` that are personal data (``auth.policy.personal_columns``), in plan order, each
        as (JSON key, entity type, field) of the access log (``auth.policy.logged_as``: a benefit line's
        recipient NIK is a read of its claim)."""
        found = self._personal.get(id(plan))
        if found is None:
            model = MODELS[plan.typename]
            personal = personal_columns(model)
            found = [
                (i.key, *logged_as(model, i.column)) for i in plan.items if isinstance(i, Leaf) and i.column in personal
            ]
            self._personal[id(plan)] = found
        return found

    def objects(self, plan: ObjectPlan, values: list[Any]) -> None:
        for value in values:
            self.object(plan, value)


__all__ = ["MODELS", "NESTED", "ROW_ID", "Dialect", "Finish", "JsonBuilder", "NestedPage", "NotInSql", "covers"]
