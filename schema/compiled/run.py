"""Runs an :class:`~schema.compiled.plan.OperationPlan` for one request: one JSON statement per root field.

Arguments are converted as the resolvers' own (Strawberry's coercion, the same input classes) and checked
by the resolvers' functions (``check_first``, ``decode_cursor``, ``participant_conditions`` with its
region-filter check, ``check_representations``); then each root field is one statement whose JSON the
database builds (:mod:`schema.compiled.sql_json`, on PostgreSQL and SQLite alike), kept per structure and
run again as compiled text (:mod:`schema.compiled.sql_text`): the number of statements does not grow with
the page. Whenever the resolvers would refuse something (a bad argument, a malformed cursor, a lookup that
needs ``pii:read``), or the plan holds something no JSON statement renders (:func:`sql_json.covers`),
:class:`Fallback` is raised before anything is returned, and the resolvers answer with their own error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson
from graphql import GraphQLError, VariableNode, get_argument_values, get_variable_values
from graphql.execution.values import VariableValues
from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Integer,
    SelectBase,
    Text,
    bindparam,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.exc import OperationalError
from strawberry import relay
from strawberry.types.arguments import convert_arguments

from auth.policy import (
    TYPE_READ_SCOPES,
    MissingScope,
    NotAuthenticated,
    pii_visible,
    visible,
)
from auth.principal import Principal
from auth.scopes import Scope
from domain import clock
from domain.audit.access import PersonalDataReads
from domain.beneficiaries.models import LATEST_SNAPSHOT, PovertyBeneficiary
from domain.claims.models import Claim
from domain.participants.models import Participant
from domain.participants.status import paid_through_needed
from domain.regions.models import Region
from schema.beneficiaries.filters import BENEFICIARY_SORTS, BeneficiaryOrder, beneficiary_conditions
from schema.claims.filters import CLAIM_SORTS, ClaimOrder, claim_conditions
from schema.compiled.cache import BoundedCache
from schema.compiled.plan import ConnectionPlan, ObjectPlan, OperationPlan, Relation, RootPlan, TypedPlans
from schema.compiled.sql_json import MODELS, NESTED, Finish, JsonBuilder, NestedPage
from schema.compiled.sql_text import compile_text
from schema.core.context import Context
from schema.core.entities import check_representations
from schema.core.errors import BadInput, QueryTooComplex
from schema.core.ids import db_id, local_id
from schema.core.pagination import OrderDirection, check_first, decode_cursor, keyset_page
from schema.participants.contributions import visible_payments
from schema.participants.filters import PARTICIPANT_SORTS, ParticipantOrder, participant_conditions
from schema.participants.types import parse_nik_argument
from schema.regions.filters import REGION_SORT, parse_region_code, region_conditions

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


#: The root connections: their model, the resolver's conditions function, sort keys and default order.
_CONNECTIONS: dict[str, tuple[type[Any], Callable[..., Awaitable[list[Any]]], dict[Any, Any], type[Any]]] = {
    "participants": (Participant, participant_conditions, PARTICIPANT_SORTS, ParticipantOrder),
    "claims": (Claim, claim_conditions, CLAIM_SORTS, ClaimOrder),
    "beneficiaries": (PovertyBeneficiary, beneficiary_conditions, BENEFICIARY_SORTS, BeneficiaryOrder),
}


class Fallback(Exception):
    """This request is answered by the resolvers (they refuse it, or it needs something not compiled)."""


async def run_operation(plan: OperationPlan, schema: Any, context: Context, variables: dict[str, Any] | None) -> Any:
    """The ``data`` of the response to `plan` (one that :func:`~schema.compiled.sql_json.covers`, checked once
    when the plan is made: ``schema.compiled.extension.plan_for``), or :class:`Fallback`."""
    coerced = get_variable_values(schema._schema, plan.variable_definitions, variables or {})
    if isinstance(coerced, list):
        raise Fallback
    run = _Run(schema, context, coerced)
    try:
        data = {root.key: await run.root(root) for root in plan.roots}
    except _REFUSALS:
        raise Fallback from None
    context.pii_reads.update(run.pii_notes)
    return data


def page_structure(page: SelectBase) -> tuple[Any, Sequence[BindParameter[Any]]]:
    """The structure of `page` as a hashable key, and its bind parameters (whose values vary per request).

    The one private library API the read path keeps: SQLAlchemy's ``HasCacheKey._generate_cache_key()``,
    the structural key SQLAlchemy computes for its own compiled cache. Through public API only, the
    statement would be built and executed as Core on every request (3.9 times the CPU of S1 per request on
    PostgreSQL, 2.7 on SQLite, ``bench/private_api.py``), or the page compiled per request to learn its
    structure (1.2 times on PostgreSQL; also measured there). ``tests/schema/test_private_api.py`` pins the
    SQLAlchemy versions it holds for.
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
        #: The day a participant's status is derived for (domain.participants.status).
        self.today = clock.today()
        #: The principal as a statement-cache key: everything the policy may look at, not the token's id; and
        #: the month, since a kept JSON statement derives the status for a month.
        self.shape = (dataclasses.replace(self.principal, token_id=None), paid_through_needed(self.today))
        #: The database's dialect name, for the JSON statements' constructs (sql_json.Dialect): one per app.
        self.dialect = self.reader.dialect
        #: Unmasked personal data returned (entity type -> ids, fields); handed to the access log on success.
        self.pii_notes = PersonalDataReads()
        #: Whether personal data is shown unmasked, so that the statements carry row ids (as JsonBuilder.pii).
        self.pii = pii_visible(self.principal)

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
        if relation.name in ("_entities", "node"):
            return raw  # representations are plain objects (_Any), node's id a GlobalID's text: checked by the caller
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
        if root.name in _CONNECTIONS:
            return await self.connection(root)
        if root.name == "claim":
            return await self.claim(root)
        if root.name == "beneficiary":
            return await self.beneficiary(root)
        if root.name == "region":
            return await self.region(root)
        if root.name == "regions":
            return await self.regions(root)
        if root.name == "node":
            return await self.node(root)
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
        return await self.lookup_json(plan, Participant, column, value)

    async def claim(self, root: RootPlan) -> dict[str, Any] | None:
        """``claim(id | claimNumber)``: exactly one key, as the resolver demands (else it refuses: Fallback)."""
        plan = root.plan
        assert isinstance(plan, ObjectPlan)
        args = self.arguments("Query", root)
        if (args.get("id") is None) == (args.get("claim_number") is None):
            raise Fallback
        if args.get("id") is not None:
            return await self.lookup_json(plan, Claim, "id", local_id(str(args["id"]), "Claim"))
        return await self.lookup_json(plan, Claim, "claim_number", str(args["claim_number"]))

    async def beneficiary(self, root: RootPlan) -> dict[str, Any] | None:
        """``beneficiary(id | nik)``: exactly one key; by NIK (with pii:read, a valid NIK) the latest snapshot
        the caller may see, as the resolvers' loader picks it (greatest snapshot date, then id)."""
        plan = root.plan
        assert isinstance(plan, ObjectPlan)
        args = self.arguments("Query", root)
        if (args.get("id") is None) == (args.get("nik") is None):
            raise Fallback
        model = PovertyBeneficiary
        if args.get("id") is not None:
            return await self.lookup_json(plan, model, "id", local_id(str(args["id"]), "PovertyBeneficiary"))
        if not self.principal.has_scope(Scope.PII_READ):
            raise Fallback
        nik = parse_nik_argument(str(args["nik"]), "nik")
        latest = tuple(getattr(model, column).desc() for column in LATEST_SNAPSHOT)
        return await self.lookup_json(plan, model, "nik", nik, latest)

    async def region(self, root: RootPlan) -> dict[str, Any] | None:
        """``region(code)``: the code parsed as the resolver parses it (malformed: its refusal), then the region
        if the caller may see it (``visible(Region)``, as the region loader reads it); else null."""
        plan = root.plan
        assert isinstance(plan, ObjectPlan)
        code = parse_region_code(str(self.arguments("Query", root)["code"]), "code")
        return await self.lookup_json(plan, Region, "code", code.code)

    async def regions(self, root: RootPlan) -> dict[str, Any]:
        """``regions(level, parentCode, first, after)``: the resolver's conditions (``region_conditions``) and
        page (``REGION_SORT``, keyed by code: regions have no integer id)."""
        plan = root.plan
        assert isinstance(plan, ConnectionPlan)
        args = self.arguments("Query", root)
        conditions = region_conditions(self.principal, args.get("level"), args.get("parent_code"))
        limit = check_first(args.get("first"))
        return await self.connection_json(
            plan, Region, conditions, REGION_SORT, False, limit, args.get("after"), id_column="code"
        )

    async def lookup_json(
        self,
        plan: ObjectPlan,
        model: type[Any],
        column: str,
        value: Any,
        latest: tuple[Any, ...] = (),
        exists: ColumnElement[bool] | None = None,
    ) -> dict[str, Any] | None:
        """One row of `model` by `column`, if the caller may see it (``visible``, or `exists` for a table that
        is not placed in a region itself), as one JSON statement; `latest` orders the rows a key names when it
        may name several (the first is the answer)."""
        table = model.__table__
        pages = self.nested_pages(plan)
        lookup: BindParameter[Any] = bindparam("key", value)
        condition = visible(self.principal, model) if exists is None else exists

        def build_json() -> Any:
            document = cast(self.builder(pages).object(plan, table), Text)
            found = select(document).where(table.c[column] == lookup, condition)
            return found.order_by(*latest).limit(1) if latest else found

        key = ("lookup_json", model.__name__, id(plan), column, self.shape, pages.key)
        varying, values = [lookup, *pages.binds], [value, *pages.values]
        found = await self.json_rows(key, plan, build_json, varying, values, {"key": value})
        if not found:
            return None
        result: dict[str, Any] = orjson.loads(found[0][0])
        Finish(self.pii_notes, pii=self.pii).object(plan, result)
        return result

    async def connection(self, root: RootPlan) -> dict[str, Any]:
        """``participants``, ``claims`` or ``beneficiaries(filter, orderBy, first, after)``: the resolver's own
        conditions (scope and filter, with their refusals), sort keys and page checks (:data:`_CONNECTIONS`)."""
        plan = root.plan
        assert isinstance(plan, ConnectionPlan)
        model, conditions_of, sorts, default_order = _CONNECTIONS[root.name]
        args = self.arguments("Query", root)
        conditions = await conditions_of(self.reader, self.principal, args.get("filter"))
        order = args.get("order_by") or default_order()
        descending = order.direction is OrderDirection.DESC
        limit = check_first(args.get("first"))
        return await self.connection_json(
            plan, model, conditions, sorts[order.field], descending, limit, args.get("after")
        )

    async def connection_json(
        self,
        plan: ConnectionPlan,
        model: type[Any],
        conditions: list[Any],
        sort: Any,
        descending: bool,
        limit: int,
        after: str | None,
        id_column: str = "id",
    ) -> dict[str, Any]:
        """A root page of `model` (already scoped and filtered by `conditions`) as one JSON statement; ties are
        broken by `id_column`, the key the cursors carry (a region's is its code)."""
        table = model.__table__
        key_column = table.c[id_column]
        pages = self.nested_pages(plan.node)
        builder = self.builder(pages)
        columns = select(*table.c).where(*conditions)
        ranked = func.row_number().over(
            order_by=(sort.column.desc(), key_column.desc()) if descending else (sort.column.asc(), key_column.asc())
        )
        page = (
            keyset_page(columns, sort=sort, id_column=key_column, descending=descending, limit=limit, after=after)
            .add_columns(ranked.label("page_rank"))
            .subquery("page")
        )

        def build_json() -> Any:
            count = None
            if plan.wants_count:
                matching = select(key_column).where(*conditions).subquery()
                count = select(func.count()).select_from(matching).scalar_subquery()
            cursor = builder.cursor(sort, page.c[sort.column.key], page.c[id_column])
            document = builder.connection(
                plan, page, page.c.page_rank, limit, cursor, has_previous=literal(after is not None), count=count
            )
            # An aggregate over the page (one row, also when it is empty) only when its rows are asked for.
            selected = select(cast(document, Text))
            return selected.select_from(page) if plan.wants_rows else selected

        # The page's own parameters (filter values, keyset, limit) vary; its structure is part of the key.
        structure, page_binds = page_structure(page.element)
        key = ("connection_json", model.__name__, id(plan), self.shape, pages.key, limit, after is not None, structure)
        binds = [*page_binds, *pages.binds]
        values = [*(b.effective_value for b in page_binds), *pages.values]
        found = await self.json_rows(key, plan, build_json, binds, values, None)
        result: dict[str, Any] = orjson.loads(found[0][0])
        Finish(self.pii_notes, pii=self.pii).connection(plan, result, sort, descending)
        return result

    def builder(self, pages: _NestedPages) -> JsonBuilder:
        return JsonBuilder(self.schema._schema, self.principal, pages.pages, self.today, self.dialect)

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
            if text is _TOO_DEEP:
                raise Fallback
            if text is not None:
                self.context.counters.json_texts += 1
                return await self.reader.text_rows(text.sql, text.parameters(values))
            return await self.reader.rows(build(), params)
        statement = build()
        try:
            rows, ran = await self.reader.rows_and_compiled(statement, params)
        except OperationalError as error:
            if not _too_deep(error):
                raise
            # SQLite parses with a fixed stack (YYSTACKDEPTH): a statement nested deeper than it can parse
            # (claims of a claim's participant, with global ids, …) is the resolvers', now and next time.
            statements.put(key, (plan, _TOO_DEEP))
            raise Fallback from None
        statements.put(key, (plan, compile_text(statement, self.reader.sql_dialect, varying, ran)))
        return rows

    def nested_pages(self, plan: ObjectPlan) -> _NestedPages:
        """Each nested page's ``first`` and ``after`` anywhere under `plan` (a claim's participant's claims
        too), checked as the resolvers check them (BadInput and a malformed cursor: Fallback); a
        cursor's values become bind parameters of the JSON statement."""
        nested = _NestedPages()
        self._collect_pages(plan, nested)
        return nested

    def _collect_pages(self, plan: ObjectPlan, nested: _NestedPages) -> None:
        for relation in plan.items:
            if not isinstance(relation, Relation):
                continue
            if isinstance(relation.plan, ObjectPlan):
                self._collect_pages(relation.plan, nested)
                continue
            args = self.arguments(plan.typename, relation)
            limit = check_first(args.get("first"))
            after = args.get("after")
            if after is None:
                nested.pages[id(relation)] = NestedPage(limit)
                nested.key += ((limit, False),)
            else:
                sort = NESTED[(plan.typename, relation.name)].sort
                value, row_id = decode_cursor(after, sort, False)
                binds = (bindparam(None, value, type_=sort.column.type), bindparam(None, row_id, type_=Integer))
                nested.pages[id(relation)] = NestedPage(limit, binds)
                nested.binds += binds
                nested.values += [value, row_id]
                nested.key += ((limit, True),)
            self._collect_pages(relation.plan.node, nested)

    async def entities(self, root: RootPlan) -> list[dict[str, Any] | None]:
        """``_entities``: the resolvers' checks of the representations, then one statement per type present
        (the representations of one type go in together), the slots put back in the representations' order."""
        plan = root.plan
        assert isinstance(plan, TypedPlans)
        if not self.principal.is_authenticated:
            raise Fallback
        representations = self.arguments("Query", root).get("representations")
        if not isinstance(representations, list):
            raise Fallback
        check_representations(representations, self.schema.entity_keys, self.context.limits.max_entity_representations)
        by_type: dict[str, list[tuple[int, tuple[str, Any]]]] = {}
        for index, r in enumerate(representations):
            typename = self.readable_type(plan, r.get("__typename"))
            key: tuple[str, Any]
            if typename == "Region":  # its one key, the code, as given (resolve_reference loads it unparsed)
                key = ("code", str(r["code"]))
            elif r.get("id") is not None:
                key = ("id", local_id(str(r["id"]), typename))
            else:
                key = ("membershipNumber", str(r.get("membershipNumber")))
            by_type.setdefault(typename, []).append((index, key))
        result: list[dict[str, Any] | None] = [None] * len(representations)
        for typename, slots in sorted(by_type.items()):
            found = await self.entities_json(plan.plans[typename], [key for _, key in slots])
            for (index, _), value in zip(slots, found, strict=True):
                result[index] = value
        return result

    async def node(self, root: RootPlan) -> dict[str, Any] | None:
        """``node(id)`` of a Participant, Claim, PovertyBeneficiary, Region or Contribution: the id's own type,
        then the lookup by its key (as the type's ``resolve_nodes``: a malformed integer key is no row, a
        region's code is looked up as given); a malformed global id or another type: the resolvers."""
        plan = root.plan
        assert isinstance(plan, TypedPlans)
        raw = self.arguments("Query", root).get("id")
        try:
            global_id = relay.GlobalID.from_id(str(raw))
        except Exception:  # Strawberry's own refusal, whatever it raises: theirs to give
            raise Fallback from None
        typename = self.readable_type(plan, global_id.type_name)
        if typename == "Region":
            return await self.lookup_json(plan.plans[typename], Region, "code", global_id.node_id)
        # A payment exists for a caller when its participant does (as ContributionNode.resolve_nodes).
        exists = visible_payments(self.principal) if typename == "Contribution" else None
        key = db_id(global_id.node_id)
        return await self.lookup_json(plan.plans[typename], MODELS[typename], "id", key, exists=exists)

    def readable_type(self, plan: TypedPlans, typename: object) -> str:
        """`typename` if the plan resolves it and the caller holds its read scope (``TYPE_READ_SCOPES``, what the
        type's ``resolve_reference``/``resolve_nodes`` require); otherwise the resolvers answer (Fallback)."""
        if not isinstance(typename, str) or typename not in plan.plans:
            raise Fallback
        if not (self.principal.is_authenticated and self.principal.has_scope(TYPE_READ_SCOPES[typename])):
            raise Fallback
        return typename

    async def entities_json(self, plan: ObjectPlan, keys: list[tuple[str, Any]]) -> list[dict[str, Any] | None]:
        """``_entities`` as one JSON statement: the representations go in as two arrays, whatever their number
        (an integer id, or a text key: a participant's membership number, a region's code)."""
        ids = [value if kind == "id" else None for kind, value in keys]
        numbers = [value if kind != "id" else None for kind, value in keys]
        pages = self.nested_pages(plan)
        builder = self.builder(pages)
        binds, bound = builder.sql.entity_keys(ids, numbers)

        def build_json() -> Any:
            return builder.entities(plan, binds)

        key = ("entities_json", plan.typename, id(plan), self.shape, pages.key)
        varying, values = [*binds, *pages.binds], [*bound, *pages.values]
        params = {bind.key: value for bind, value in zip(binds, bound, strict=True)}
        found = await self.json_rows(key, plan, build_json, varying, values, params)
        result: list[dict[str, Any] | None] = orjson.loads(found[0][0])
        Finish(self.pii_notes, pii=self.pii).objects(plan, result)
        return result


#: A statement-cache entry for a plan whose statement the database cannot parse (see :func:`_too_deep`).
_TOO_DEEP = object()


def _too_deep(error: OperationalError) -> bool:
    """Whether SQLite refused the statement for its nesting alone ("parser stack overflow"): not the request's
    fault and nothing the resolvers would refuse, so they answer it."""
    return "parser stack overflow" in str(error.orig)


@dataclasses.dataclass
class _NestedPages:
    """The nested pages of one object plan for one request (see :meth:`_Run.nested_pages`)."""

    pages: dict[int, NestedPage] = dataclasses.field(default_factory=dict)
    #: The cursors' bind parameters and their values, in plan order.
    binds: list[BindParameter[Any]] = dataclasses.field(default_factory=list)
    values: list[Any] = dataclasses.field(default_factory=list)
    #: (limit, has a cursor) per page: the statement's structure, part of its cache key.
    key: tuple[tuple[int, bool], ...] = ()
