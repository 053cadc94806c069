"""Runs an :class:`~schema.compiled.plan.OperationPlan` for one request: a few set-based statements, Core rows.

Per root field: one statement for the rows (joined with their region when asked), one per nested relation
for the whole page (programmes, a windowed page of claims per participant), one COUNT per ``totalCount``,
and the region-filter check the resolvers also make: the number of statements does not grow with the page.
Rows are tuples (no ORM instances); each value goes through the schema's own serialiser. Whenever the
resolvers would refuse something (a bad argument, a malformed cursor, a lookup that needs ``pii:read``),
:class:`Fallback` is raised before anything is returned, and the resolvers answer with their own error.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from graphql import GraphQLError, VariableNode, get_argument_values, get_variable_values
from graphql.execution.values import VariableValues
from sqlalchemy import (
    ARRAY,
    BigInteger,
    BindParameter,
    Integer,
    Row,
    SelectBase,
    Text,
    and_,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
)
from strawberry.relay import to_base64
from strawberry.types.arguments import convert_arguments

from auth.policy import (
    MissingScope,
    NotAuthenticated,
    personal_columns,
    pii_visible,
    shown,
    visible,
)
from auth.principal import Principal
from auth.scopes import Scope
from domain import clock
from domain.claims.models import Claim
from domain.participants.models import Participant, ParticipantProgram
from domain.participants.status import derived_status, paid_through_needed
from domain.regions.models import Region
from schema.claims.filters import SUBMITTED_SORT
from schema.claims.queries import claim_pages_subquery
from schema.compiled.cache import BoundedCache
from schema.compiled.plan import LEAVES, ConnectionPlan, Leaf, ObjectPlan, OperationPlan, Relation, RootPlan, Typename
from schema.compiled.sql_json import Finish, JsonBuilder, NestedPage, covers
from schema.compiled.sql_text import compile_text
from schema.core.context import Context
from schema.core.entities import check_representations
from schema.core.errors import BadInput, QueryTooComplex
from schema.core.ids import local_id
from schema.core.pagination import OrderDirection, check_first, decode_cursor, encode_cursor, keyset_page
from schema.participants.filters import PARTICIPANT_SORTS, ParticipantOrder, participant_conditions
from schema.participants.types import parse_nik_argument

Getter = Callable[[Any], Any]

#: The table behind each compiled GraphQL type, for ``auth.policy``'s column rules.
_MODELS: dict[str, type[Any]] = {
    "Participant": Participant,
    "Claim": Claim,
    "Region": Region,
    "ProgramEnrolment": ParticipantProgram,
}

_P = Participant.__table__
_R = Region.__table__
_PP = ParticipantProgram.__table__
_PARTICIPANT_COLUMNS = tuple(dict.fromkeys([*LEAVES["Participant"].values(), "region_code"]))
_REGION_COLUMNS = tuple(dict.fromkeys(LEAVES["Region"].values()))
_CLAIM_COLUMNS = tuple(dict.fromkeys([*LEAVES["Claim"].values(), "participant_id"]))
#: Refusals the resolvers make themselves: the compiled path leaves such a request to them.
_REFUSALS = (BadInput, QueryTooComplex, NotAuthenticated, MissingScope, GraphQLError)


_FIELDS: dict[tuple[int, str, str], Any] = {}

#: Converted literal arguments per (schema, parent type, selection node); the node is kept to check identity.
_LITERAL_ARGUMENTS: dict[tuple[int, str, int], tuple[Any, dict[str, Any]]] = {}


def _uses_variables(node: Any) -> bool:
    """Whether any argument of the selection `node` refers to a variable (anywhere inside its value)."""
    stack = [argument.value for argument in node.arguments or ()]
    while stack:
        value = stack.pop()
        if isinstance(value, VariableNode):
            return True
        stack.extend(getattr(value, "values", None) or ())
        stack.extend(f.value for f in getattr(value, "fields", None) or ())
    return False


def _strawberry_field(schema: Any, parent: str, name: str) -> Any:
    """Strawberry's `get_field_for_type` of the schema (a linear search with name conversion), remembered."""
    key = (id(schema), parent, name)
    if key not in _FIELDS:
        _FIELDS[key] = schema.get_field_for_type(name, parent)
    return _FIELDS[key]


class Fallback(Exception):
    """This request is answered by the resolvers (they refuse it, or it needs something not compiled)."""


async def run_operation(plan: OperationPlan, schema: Any, context: Context, variables: dict[str, Any] | None) -> Any:
    """The ``data`` of the response to `plan`, or :class:`Fallback`."""
    coerced = get_variable_values(schema._schema, plan.variable_definitions, variables or {})
    if isinstance(coerced, list):
        raise Fallback
    run = _Run(schema, context, coerced)
    run.json_statements = (
        context.json_statements and context.reader.dialect == "postgresql" and covers(plan, schema._schema)
    )
    try:
        data = {root.key: await run.root(root) for root in plan.roots}
    except _REFUSALS:
        raise Fallback from None
    for entity_type, entity_id, field_name in run.pii_notes:
        context.note_pii_read(entity_type, entity_id, field_name)
    return data


def page_structure(page: SelectBase) -> tuple[Any, Sequence[BindParameter[Any]]]:
    """The structure of `page` as a hashable key, and its bind parameters (whose values vary per request).

    The one private library API the read path keeps: SQLAlchemy's ``HasCacheKey._generate_cache_key()``,
    the structural key SQLAlchemy computes for its own compiled cache. Through public API only, the
    statement would be built and executed as Core on every request (3.3 times the CPU of S1 per request,
    ``bench/private_api.py``), or the page compiled per request to learn its structure (also measured
    there). ``tests/schema/test_private_api.py`` pins the SQLAlchemy versions it holds for.
    """
    found = page._generate_cache_key()
    assert found is not None, "a select of table columns has a cache key"
    return found.key, found.bindparams


class _Run:
    def __init__(self, schema: Any, context: Context, variables: VariableValues) -> None:
        self.schema = schema
        self.context = context
        self.principal: Principal = context.principal
        self.reader = context.reader
        self.variables = variables
        self.pii = pii_visible(self.principal)
        #: The day a participant's status is derived for (domain.participants.status).
        self.today = clock.today()
        #: The principal as a statement-cache key: everything the policy may look at, not the token's id; and
        #: the month, since a kept JSON statement derives the status for a month.
        self.shape = (dataclasses.replace(self.principal, token_id=None), paid_through_needed(self.today))
        #: Whether root fields are answered by one JSON statement each (PostgreSQL, plan covered, switch on).
        self.json_statements = False
        #: (entity type, id, field) of unmasked personal data returned; handed to the access log on success.
        self.pii_notes: list[tuple[str, object, str]] = []

    # --- arguments ---------------------------------------------------------------------------------------

    def arguments(self, parent: str, relation: Relation | RootPlan) -> dict[str, Any]:
        """The field's arguments as its resolver would receive them (same coercion, same input classes).

        Arguments written as literals (``claims(first: 10)``) give the same values on every request: those
        are converted once per selection node. Arguments that use variables are converted per request.
        """
        node = relation.node
        if not _uses_variables(node):
            key = (id(self.schema), parent, id(node))
            cached = _LITERAL_ARGUMENTS.get(key)
            if cached is not None and cached[0] is node:
                return dict(cached[1])
            converted = self._convert(parent, relation)
            _LITERAL_ARGUMENTS[key] = (node, converted)
            if len(_LITERAL_ARGUMENTS) > 4096:
                _LITERAL_ARGUMENTS.pop(next(iter(_LITERAL_ARGUMENTS)))
            return dict(converted)
        return self._convert(parent, relation)

    def _convert(self, parent: str, relation: Relation | RootPlan) -> dict[str, Any]:
        definition = self.schema._schema.get_type(parent).fields[relation.name]
        raw = get_argument_values(definition, relation.node, self.variables)
        if relation.name == "_entities":
            return raw  # representations are plain objects (_Any); nothing to convert
        strawberry_field = _strawberry_field(self.schema, parent, relation.name)
        if strawberry_field is None:
            raise Fallback
        converted: dict[str, Any] = convert_arguments(
            raw,
            strawberry_field.arguments,
            scalar_registry=self.schema.schema_converter.scalar_registry,
            config=self.schema.config,
        )
        return converted

    # --- root fields -------------------------------------------------------------------------------------

    async def root(self, root: RootPlan) -> Any:
        if root.name == "participant":
            return await self.participant(root)
        if root.name == "participants":
            return await self.participants(root)
        return await self.entities(root)

    async def participant(self, root: RootPlan) -> dict[str, Any] | None:
        plan = root.plan
        assert isinstance(plan, ObjectPlan)
        args = self.arguments("Query", root)
        given = [k for k in ("id", "membership_number", "nik") if args.get(k) is not None]
        if len(given) != 1:
            raise Fallback
        value: Any
        if given[0] == "id":
            column, value = "id", local_id(str(args["id"]), "Participant")
        elif given[0] == "membership_number":
            column, value = "membership_number", args["membership_number"]
        else:
            if not self.principal.has_scope(Scope.PII_READ):
                raise Fallback
            column, value = "nik", parse_nik_argument(str(args["nik"]), "nik")
        if self.json_statements:
            pages = self.nested_pages(plan)
            lookup: BindParameter[Any] = bindparam("key", value)

            def build_json() -> Any:
                builder = JsonBuilder(self.schema._schema, self.principal, pages.pages, self.today)
                document = cast(builder.object(plan, _P), Text)
                return select(document).where(_P.c[column] == lookup, visible(self.principal, Participant))

            key = ("participant_json", id(plan), column, self.shape, pages.key)
            varying, values = [lookup, *pages.binds], [value, *pages.values]
            found = await self.json_rows(key, plan, build_json, varying, values, {"key": value})
            if not found:
                return None
            result: dict[str, Any] = orjson.loads(found[0][0])
            Finish(self.pii_notes).object(plan, result)
            return result
        with_region = bool(plan.relation("region"))

        def build() -> Any:
            stmt, _ = self.participant_select(plan)
            return stmt.where(_P.c[column] == bindparam("key"), visible(self.principal, Participant))

        stmt = self._statement(("participant", column, with_region, self.shape), build)
        index = self.participant_index(plan)
        rows = await self.reader.rows(stmt, {"key": value})
        objects = await self.participant_objects(plan, rows, index)
        return objects[0] if objects else None

    async def participants(self, root: RootPlan) -> dict[str, Any]:
        plan = root.plan
        assert isinstance(plan, ConnectionPlan)
        args = self.arguments("Query", root)
        conditions = await participant_conditions(self.reader, self.principal, args.get("filter"))
        order = args.get("order_by") or ParticipantOrder()
        sort = PARTICIPANT_SORTS[order.field]
        descending = order.direction is OrderDirection.DESC
        limit = check_first(args.get("first"))
        after = args.get("after")
        if self.json_statements:
            return await self.participants_json(plan, conditions, sort, descending, limit, after)
        stmt, index = self.participant_select(plan.node)
        stmt = keyset_page(
            stmt.where(*conditions), sort=sort, id_column=_P.c.id, descending=descending, limit=limit, after=after
        )
        rows = list(await self.reader.rows(stmt))
        count = None
        if plan.wants_count:
            matching = select(_P.c.id).where(*conditions).subquery()
            count = int(await self.reader.one(select(func.count()).select_from(matching)))
        nodes = await self.participant_objects(plan.node, rows[:limit], index)
        sort_at, id_at = index[sort.column.key], index["id"]
        return _connection(
            plan,
            rows,
            nodes,
            limit=limit,
            after=after,
            cursor_of=lambda r: encode_cursor(sort, descending, r[sort_at], r[id_at]),
            count=count,
        )

    async def participants_json(
        self, plan: ConnectionPlan, conditions: list[Any], sort: Any, descending: bool, limit: int, after: str | None
    ) -> dict[str, Any]:
        """A page of participants as one JSON statement (schema.compiled.sql_json)."""
        pages = self.nested_pages(plan.node)
        builder = JsonBuilder(self.schema._schema, self.principal, pages.pages, self.today)
        columns = select(*_P.c).where(*conditions)
        ranked = func.row_number().over(
            order_by=(sort.column.desc(), _P.c.id.desc()) if descending else (sort.column.asc(), _P.c.id.asc())
        )
        page = (
            keyset_page(columns, sort=sort, id_column=_P.c.id, descending=descending, limit=limit, after=after)
            .add_columns(ranked.label("page_rank"))
            .subquery("page")
        )

        def build_json() -> Any:
            count = None
            if plan.wants_count:
                matching = select(_P.c.id).where(*conditions).subquery()
                count = select(func.count()).select_from(matching).scalar_subquery()
            cursor = builder.cursor(sort, page.c[sort.column.key], page.c.id)
            document = builder.connection(
                plan, page, page.c.page_rank, limit, cursor, has_previous=literal(after is not None), count=count
            )
            # An aggregate over the page (one row, also when it is empty) only when its rows are asked for.
            selected = select(cast(document, Text))
            return selected.select_from(page) if plan.wants_rows else selected

        # The page's own parameters (filter values, keyset, limit) vary; its structure is part of the key.
        structure, page_binds = page_structure(page.element)
        key = ("participants_json", id(plan), self.shape, pages.key, limit, after is not None, structure)
        binds = [*page_binds, *pages.binds]
        values = [*(b.effective_value for b in page_binds), *pages.values]
        found = await self.json_rows(key, plan, build_json, binds, values, None)
        result: dict[str, Any] = orjson.loads(found[0][0])
        Finish(self.pii_notes).connection(plan, result, sort, descending)
        return result

    def _statement(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        """The statement the app keeps under `key`, built on first use."""
        statements = self.context.statements
        cached = statements.get(key)
        if BoundedCache.missing(cached):
            cached = build()
            statements.put(key, cached)
        return cached

    async def json_rows(
        self,
        key: tuple[Any, ...],
        plan: Any,
        build: Callable[[], Any],
        varying: Sequence[Any],
        values: list[Any],
        params: dict[str, Any] | None,
    ) -> Sequence[Any]:
        """Rows of the JSON statement cached under `key`: built and run as Core once, then as compiled text.

        `varying` are the statement's bind parameters whose `values` change per request (`params` binds
        them by name when the statement runs as Core).
        """
        self.context.counters.json_roots += 1
        statements = self.context.statements
        cached = statements.get(key)
        if not BoundedCache.missing(cached) and cached[0] is plan:  # type: ignore[index]
            text = cached[1]  # type: ignore[index]
            if text is not None:
                self.context.counters.json_texts += 1
                return await self.reader.text_rows(text.sql, text.parameters(values))
            return await self.reader.rows(build(), params)
        statement = build()
        rows = await self.reader.rows(statement, params)
        statements.put(key, (plan, compile_text(statement, self.reader.sql_dialect, varying)))
        return rows

    def nested_pages(self, plan: ObjectPlan) -> _NestedPages:
        """Each nested claims page's ``first`` and ``after``, checked as the resolvers check them (BadInput and
        a malformed cursor: Fallback); a cursor's values become bind parameters of the JSON statement."""
        nested = _NestedPages()
        for relation in plan.relation("claims"):
            args = self.arguments("Participant", relation)
            limit = check_first(args.get("first"))
            after = args.get("after")
            if after is None:
                nested.pages[id(relation)] = NestedPage(limit)
                nested.key += ((limit, False),)
                continue
            value, row_id = decode_cursor(after, SUBMITTED_SORT, False)
            binds = (bindparam(None, value, type_=Claim.submitted_at.type), bindparam(None, row_id, type_=Integer))
            nested.pages[id(relation)] = NestedPage(limit, binds)
            nested.binds += binds
            nested.values += [value, row_id]
            nested.key += ((limit, True),)
        return nested

    async def entities(self, root: RootPlan) -> list[dict[str, Any] | None]:
        assert isinstance(root.plan, ObjectPlan)
        if not self.principal.is_authenticated or not self.principal.has_scope(Scope.PARTICIPANTS_READ):
            raise Fallback
        representations = self.arguments("Query", root).get("representations")
        if not isinstance(representations, list):
            raise Fallback
        check_representations(representations, self.schema.entity_keys, self.context.limits.max_entity_representations)
        if any(r.get("__typename") not in ("Participant",) for r in representations):
            raise Fallback
        keys: list[tuple[str, Any]] = []
        for r in representations:
            if r.get("id") is not None:
                keys.append(("id", local_id(str(r["id"]), "Participant")))
            else:
                keys.append(("membershipNumber", str(r.get("membershipNumber"))))
        if not keys:
            return []
        if self.json_statements:
            return await self.entities_json(root.plan, keys)
        ids = [v for kind, v in keys if kind == "id"]
        numbers = [v for kind, v in keys if kind == "membershipNumber"]
        conditions = [_P.c.id.in_(ids)] if ids else []
        conditions += [_P.c.membership_number.in_(numbers)] if numbers else []
        stmt, index = self.participant_select(root.plan)
        rows = await self.reader.rows(stmt.where(or_(*conditions), visible(self.principal, Participant)))
        objects = await self.participant_objects(root.plan, rows, index)
        found: dict[tuple[str, Any], dict[str, Any]] = {}
        id_at, number_at = index["id"], index["membership_number"]
        for row, obj in zip(rows, objects, strict=True):
            found[("id", row[id_at])] = found[("membershipNumber", row[number_at])] = obj
        return [found.get(k) for k in keys]

    async def entities_json(self, plan: ObjectPlan, keys: list[tuple[str, Any]]) -> list[dict[str, Any] | None]:
        """``_entities`` as one JSON statement: the representations go in as two arrays, whatever their number."""
        ids = [value if kind == "id" else None for kind, value in keys]
        numbers = [value if kind == "membershipNumber" else None for kind, value in keys]
        pages = self.nested_pages(plan)
        id_array: BindParameter[Any] = bindparam("ids", ids, type_=ARRAY(BigInteger))
        number_array: BindParameter[Any] = bindparam("numbers", numbers, type_=ARRAY(Text))

        def build_json() -> Any:
            return JsonBuilder(self.schema._schema, self.principal, pages.pages, self.today).entities(
                plan, id_array, number_array
            )

        key = ("entities_json", id(plan), self.shape, pages.key)
        varying, values = [id_array, number_array, *pages.binds], [ids, numbers, *pages.values]
        found = await self.json_rows(key, plan, build_json, varying, values, {"ids": ids, "numbers": numbers})
        result: list[dict[str, Any] | None] = orjson.loads(found[0][0])
        Finish(self.pii_notes).objects(plan, result)
        return result

    # --- participants ------------------------------------------------------------------------------------

    def participant_index(self, plan: ObjectPlan) -> dict[str, int]:
        names = list(_PARTICIPANT_COLUMNS)
        if plan.relation("region"):
            names += [f"r_{c}" for c in _REGION_COLUMNS]
        return {n: i for i, n in enumerate(names)}

    def participant_select(self, plan: ObjectPlan) -> tuple[Any, dict[str, int]]:
        """SELECT of the participant columns (and, when asked, its region's, if the caller may see it)."""
        columns: list[Any] = [_P.c[c] for c in _PARTICIPANT_COLUMNS]
        names = list(_PARTICIPANT_COLUMNS)
        if plan.relation("region"):
            columns += [_R.c[c].label(f"r_{c}") for c in _REGION_COLUMNS]
            names += [f"r_{c}" for c in _REGION_COLUMNS]
            joined = _P.outerjoin(_R, and_(_R.c.code == _P.c.region_code, visible(self.principal, Region)))
            return select(*columns).select_from(joined), {n: i for i, n in enumerate(names)}
        return select(*columns), {n: i for i, n in enumerate(names)}

    async def participant_objects(
        self, plan: ObjectPlan, rows: Sequence[Row[Any]], index: dict[str, int]
    ) -> list[dict[str, Any]]:
        if not rows:
            return []
        id_at = index["id"]
        ids = [row[id_at] for row in rows]
        relations: dict[str, Getter] = {}
        for relation in plan.items:
            if not isinstance(relation, Relation):
                continue
            if relation.name == "region":
                assert isinstance(relation.plan, ObjectPlan)
                relations[relation.key] = self.region_getter(relation.plan, index)
            elif relation.name == "programs":
                assert isinstance(relation.plan, ObjectPlan)
                relations[relation.key] = _by_id(await self.programs(relation.plan, ids), id_at, [])
            else:
                relations[relation.key] = _by_id(await self.claims(relation, ids), id_at, None)
        getters = self.getters(plan, index, relations)
        return [{key: get(row) for key, get in getters} for row in rows]

    def region_getter(self, plan: ObjectPlan, index: dict[str, int]) -> Getter:
        prefixed = {name: index[f"r_{name}"] for name in _REGION_COLUMNS}
        getters = self.getters(plan, prefixed, {})
        code_at = prefixed["code"]

        def region(row: Any) -> dict[str, Any] | None:
            if row[code_at] is None:
                return None
            return {key: get(row) for key, get in getters}

        return region

    async def programs(self, plan: ObjectPlan, ids: list[int]) -> dict[int, list[dict[str, Any]]]:
        stmt = self._statement(
            ("programs",),
            lambda: (
                select(_PP.c.participant_id, _PP.c.program, _PP.c.since)
                .where(_PP.c.participant_id.in_(bindparam("ids", expanding=True)))
                .order_by(_PP.c.program)
            ),
        )
        getters = self.getters(plan, {"participant_id": 0, "program": 1, "since": 2}, {})
        grouped: dict[int, list[dict[str, Any]]] = defaultdict(list)
        for row in await self.reader.rows(stmt, {"ids": ids}):
            grouped[row[0]].append({key: get(row) for key, get in getters})
        return grouped

    async def claims(self, relation: Relation, ids: list[int]) -> dict[int, dict[str, Any]]:
        """One page of claims per participant (one windowed statement), plus one grouped COUNT if asked."""
        plan = relation.plan
        assert isinstance(plan, ConnectionPlan)
        args = self.arguments("Participant", relation)
        limit = check_first(args.get("first"))
        after = args.get("after")

        def build(participant_ids: Any) -> Any:
            sub = claim_pages_subquery(self.principal, participant_ids, after)
            return (
                select(*[sub.c[c] for c in _CLAIM_COLUMNS])
                .where(sub.c.rank <= bindparam("rank_limit"))
                .order_by(sub.c.participant_id, sub.c.submitted_at, sub.c.id)
            )

        params: dict[str, Any] = {"rank_limit": limit + 1}
        if after is None:  # the common case: one statement per principal, reused
            stmt = self._statement(("claim_pages", self.shape), lambda: build(bindparam("ids", expanding=True)))
            params["ids"] = ids
        else:
            stmt = build(ids)
        index = {name: i for i, name in enumerate(_CLAIM_COLUMNS)}
        pages: dict[int, list[Any]] = defaultdict(list)
        for row in await self.reader.rows(stmt, params):
            pages[row[index["participant_id"]]].append(row)
        counts: dict[int, int] = {}
        if plan.wants_count:
            count_stmt = (
                select(Claim.participant_id, func.count())
                .where(Claim.participant_id.in_(ids), visible(self.principal, Claim))
                .group_by(Claim.participant_id)
            )
            counts = {int(r[0]): int(r[1]) for r in await self.reader.rows(count_stmt)}
        getters = self.getters(plan.node, index, {})
        submitted_at, id_at = index["submitted_at"], index["id"]
        result = {}
        for participant_id in ids:
            rows = pages.get(participant_id, [])
            nodes = [{key: get(row) for key, get in getters} for row in rows[:limit]]
            result[participant_id] = _connection(
                plan,
                rows,
                nodes,
                limit=limit,
                after=after,
                cursor_of=lambda r: encode_cursor(SUBMITTED_SORT, False, r[submitted_at], r[id_at]),
                count=counts.get(participant_id, 0),
            )
        return result

    # --- leaves ------------------------------------------------------------------------------------------

    def getters(
        self, plan: ObjectPlan, index: dict[str, int], relations: dict[str, Getter]
    ) -> list[tuple[str, Getter]]:
        """(response key, row -> value) for every item of `plan`, in the order the query asked for them."""
        result: list[tuple[str, Getter]] = []
        for item in plan.items:
            if isinstance(item, Typename):
                result.append((item.key, _constant(item.typename)))
            elif isinstance(item, Leaf):
                result.append((item.key, self.leaf(plan.typename, item, index)))
            else:
                result.append((item.key, relations[item.key]))
        return result

    def leaf(self, typename: str, leaf: Leaf, index: dict[str, int]) -> Getter:
        at = index[leaf.column]
        serialize = leaf.serialize
        if leaf.name == "id":
            return lambda row: serialize(to_base64(typename, row[at]))
        model = _MODELS[typename]
        if model is Participant and leaf.column == "status":
            paid_at, today = index["paid_through"], self.today
            return lambda row: serialize(derived_status(row[at], row[paid_at], today))
        if personal_columns(model, wage_based=True).get(leaf.column) is None:
            return lambda row: None if row[at] is None else serialize(row[at])
        principal, column = self.principal, leaf.column
        if leaf.column not in personal_columns(model, wage_based=False):
            # Personal only when the row's programme pays wage-based amounts (a claim's amountApproved).
            program_at = index["program"]

            def derived(row: Any) -> Any:
                value = shown(principal, model, column, row[at], row[program_at])
                return None if value is None else serialize(value)

            return derived
        return self.personal(typename, model, leaf, at, index)

    def personal(self, typename: str, model: type[Any], leaf: Leaf, at: int, index: dict[str, int]) -> Getter:
        """A personal field as ``auth.policy.shown`` gives it; a value shown in full is noted for the access log
        (with ``pii:read``, when not null: the rule of the resolvers' ``schema.core.read_fields.NotesPersonalRead``)."""
        principal, notes, serialize, id_at = self.principal, self.pii_notes, leaf.serialize, index["id"]
        name, column, pii = leaf.name, leaf.column, self.pii

        def personal(row: Any) -> Any:
            value = shown(principal, model, column, row[at])
            if value is None:
                return None
            if pii:
                notes.append((typename, row[id_at], name))
            return serialize(value)

        return personal


@dataclasses.dataclass
class _NestedPages:
    """The nested pages of one object plan for one request (see :meth:`_Run.nested_pages`)."""

    pages: dict[int, NestedPage] = dataclasses.field(default_factory=dict)
    #: The cursors' bind parameters and their values, in plan order.
    binds: list[BindParameter[Any]] = dataclasses.field(default_factory=list)
    values: list[Any] = dataclasses.field(default_factory=list)
    #: (limit, has a cursor) per page: the statement's structure, part of its cache key.
    key: tuple[tuple[int, bool], ...] = ()


def _by_id(values: dict[int, Any], id_at: int, default: Any) -> Getter:
    return lambda row: values.get(row[id_at], default)


def _constant(value: str) -> Getter:
    return lambda _row: value


def _connection(
    plan: ConnectionPlan,
    rows: Sequence[Any],
    nodes: list[dict[str, Any]],
    *,
    limit: int,
    after: str | None,
    cursor_of: Callable[[Any], str],
    count: int | None,
) -> dict[str, Any]:
    """A Relay connection from up to ``limit + 1`` rows, like ``schema.core.pagination.page_of``."""
    cursors: list[str | None] = (
        [cursor_of(row) for row in rows[:limit]] if plan.wants_cursors else [None] * min(len(rows), limit)
    )
    result: dict[str, Any] = {}
    for key, kind, sub in plan.items:
        if kind == "__typename":
            result[key] = sub
        elif kind == "totalCount":
            result[key] = count
        elif kind == "pageInfo":
            values = {
                "hasNextPage": len(rows) > limit,
                "hasPreviousPage": after is not None,
                "startCursor": cursors[0] if cursors else None,
                "endCursor": cursors[-1] if cursors else None,
            }
            result[key] = {info_key: values[name] for info_key, name in sub}
        else:
            edge_typename, edge_items = sub
            edges = []
            for cursor, node in zip(cursors, nodes, strict=True):
                edge: dict[str, Any] = {}
                for edge_key, edge_kind in edge_items:
                    edge[edge_key] = node if edge_kind == "node" else cursor if edge_kind == "cursor" else edge_typename
                edges.append(edge)
            result[key] = edges
    return result
