"""From a validated operation to a plan: which root fields, which columns, which relations, in response order.

A plan depends on the document and the operation only; the principal's region, scopes and masking are
applied when it runs (:mod:`schema.compiled.run`). :func:`compile_operation` returns ``None`` for anything
it does not cover (another root field, a field outside the catalogue below, ``@skip``/``@include``, a
fragment on an interface other than the root's own, two selections under one response key), and the
resolvers answer instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableDefinitionNode,
)

from domain.beneficiaries.models import PovertyBeneficiary
from domain.claims.models import Claim
from domain.participants.models import Participant
from domain.read_fields import read_fields
from domain.regions.models import Region
from schema.compiled.cache import BoundedCache

#: Distinct (document, operation) pairs whose plan (or "not compilable") each app keeps. Bounded: unique
#: documents evict older plans, counted in the cache's ``stats.evictions``.
PLAN_CACHE_SIZE = 1024

Plans = BoundedCache[tuple[str, str | None], "OperationPlan | None"]


def plan_cache(size: int = PLAN_CACHE_SIZE) -> Plans:
    """An app's own plan cache (one per schema: a plan is compiled against the schema that keeps it)."""
    return BoundedCache(size)


#: Statements each app keeps, built once per (statement kind, plan, principal without its token id, …) and
#: reused with new bound values: building a windowed subquery is most of a lookup's Python time. Bounded;
#: least recently used out. Per app, beside its plans: a key holds ``id(plan)``, and a plan of the same
#: app is alive while its statements are wanted.
STATEMENT_CACHE_SIZE = 4096

Statements = BoundedCache[tuple[Any, ...], Any]


def statement_cache(size: int = STATEMENT_CACHE_SIZE) -> Statements:
    """An app's own statement cache (schema.compiled.run)."""
    return BoundedCache(size)


#: The leaf fields the compiler serves, per GraphQL type: the GraphQL field name and the row's column. A
#: participant's, a claim's, a beneficiary's and a region's are their served columns as declared beside them
#: (domain.read_fields); a region's Relay id is its code (``RegionNode``'s ``NodeID``).
LEAVES: dict[str, dict[str, str]] = {
    "Participant": {declared.name: column for column, declared in read_fields(Participant).items()},
    "Region": {"id": "code", **{declared.name: column for column, declared in read_fields(Region).items()}},
    "ProgramEnrolment": {"program": "program", "since": "since"},
    "ClaimStatusEvent": {"status": "status", "at": "at", "actor": "actor", "note": "note"},
    "EmployerType": {"registrationNumber": "registration_number", "name": "name", "jkkRiskClass": "jkk_risk_class"},
    "Contribution": {
        "id": "id",
        "months": "months",
        "from": "period_from",
        "to": "period_to",
        "amount": "amount",
        "payer": "payer",
        "payerRegionCode": "payer_region_code",
        "programs": "programs",
        "reference": "reference",
        "receivedAt": "received_at",
    },
    "ClaimBenefit": {
        "kind": "kind",
        "recipientName": "recipient_name",
        "recipientNik": "recipient_nik",
        "relationship": "relationship",
        "educationLevel": "education_level",
        "amount": "amount",
    },
    "Claim": {declared.name: column for column, declared in read_fields(Claim).items()},
    "PovertyBeneficiary": {
        **{declared.name: column for column, declared in read_fields(PovertyBeneficiary).items()},
        # Derived: whether a participant with the same NIK is linked (sql_json renders participant_id IS NOT NULL).
        "enrolled": "participant_id",
    },
}

#: The relations the compiler serves: (parent type, field) -> how the child is shaped.
RELATIONS: dict[tuple[str, str], str] = {
    ("Participant", "region"): "object",
    ("Participant", "programs"): "list",
    ("Participant", "claims"): "connection",
    ("Participant", "contributions"): "connection",
    ("Participant", "beneficiary"): "object",
    ("Participant", "employer"): "object",
    ("EmployerType", "region"): "object",
    ("Claim", "participant"): "object",
    ("Claim", "region"): "object",
    ("Claim", "history"): "list",
    ("Claim", "benefits"): "list",
    ("PovertyBeneficiary", "region"): "object",
    ("PovertyBeneficiary", "participant"): "object",
    ("Region", "parent"): "object",
    ("Region", "children"): "list",
    ("Region", "ancestors"): "list",
}

#: The fields of the compiled types that the compiler leaves to their resolvers, each with its reason. With
#: :data:`LEAVES` and :data:`RELATIONS` it accounts for every field of these types
#: (tests/schema/test_read_model.py): a new field in none of the three fails the suite instead of silently
#: sending every query that asks for it to the resolvers.
RESOLVER_ONLY: dict[str, dict[str, str]] = {
    "Participant": {},
    "Region": {
        "coverage": "a Monev figure: computed from the rollups with small-cell suppression",
    },
    "Claim": {},
    "ProgramEnrolment": {},
    "ClaimStatusEvent": {},
    "EmployerType": {
        "company": "a reference to the manpower offices' subgraph (WLKP): the router resolves it, not a row here",
    },
    "Contribution": {},
    "ClaimBenefit": {},
    "PovertyBeneficiary": {},
}

#: The table-backed types (Relay nodes) whose reads the compiler leaves to their resolvers altogether, each
#: with its reason: the operators' and auditors' records, whose answers are computed by a rule that lives in
#: Python once (a second copy in SQL would be a second copy of the rule) and which are read rarely, a page at
#: a time. tests/schema/test_read_model.py fails for a Node type that is neither compiled nor listed here.
RESOLVER_ONLY_TYPES: dict[str, str] = {
    "Job": "progress and the report CSV are computed from the job row by the job runner's own functions "
    "(domain.jobs.runner.report_csv); an operator's page of jobs",
    "AuditEvent": "its changes are masked value by value by auth.policy.masked_changes over a JSON document; "
    "national auditors only",
    "DataAccessEvent": "the personal-data access log itself, for national auditors only, a page at a time",
    "TrustedDocument": "the trusted-document registry with each document's clients, for national administrators "
    "only; registered and removed by jamsos documents and the console",
}

#: Root fields the compiler serves and the shape of what they return.
ROOTS: dict[str, str] = {
    "participant": "object",
    "participants": "connection",
    "claim": "object",
    "claims": "connection",
    "beneficiary": "object",
    "beneficiaries": "connection",
    "region": "object",
    "regions": "connection",
    "_entities": "entities",
    "node": "node",
}

#: Of the ``_entities`` union, the member types the compiler resolves.
ENTITY_TYPES = frozenset({"Participant", "Claim", "PovertyBeneficiary", "Region"})

#: Of the ``Node`` interface, the types whose ``node(id)`` the compiler resolves.
NODE_TYPES = frozenset({"Participant", "Claim", "PovertyBeneficiary", "Region", "Contribution"})


@dataclass(frozen=True, slots=True)
class Leaf:
    """A scalar or enum field and where its value comes from (sql_json renders it as the schema serialises it)."""

    key: str
    name: str
    column: str


@dataclass(frozen=True, slots=True)
class Typename:
    key: str
    typename: str


@dataclass(frozen=True, slots=True)
class Relation:
    """A field whose value is another object, a list of objects or a connection (``plan``)."""

    key: str
    name: str
    node: FieldNode
    plan: ObjectPlan | ConnectionPlan


@dataclass(frozen=True, slots=True)
class ObjectPlan:
    typename: str
    items: tuple[Leaf | Typename | Relation, ...]

    def relation(self, name: str) -> list[Relation]:
        return [i for i in self.items if isinstance(i, Relation) and i.name == name]

    @property
    def leaf_names(self) -> frozenset[str]:
        return frozenset(i.name for i in self.items if isinstance(i, Leaf))


@dataclass(frozen=True, slots=True)
class ConnectionPlan:
    """A Relay connection: ``edges { cursor node }``, ``pageInfo { … }``, ``totalCount``, ``__typename``."""

    typename: str
    #: (response key, "edges" | "pageInfo" | "totalCount" | "__typename", sub-plan)
    items: tuple[tuple[str, str, Any], ...]
    node: ObjectPlan

    @property
    def wants_count(self) -> bool:
        return any(kind == "totalCount" for _, kind, _ in self.items)

    @property
    def wants_rows(self) -> bool:
        """Whether anything asked for is computed from the page's rows (edges, pageInfo)."""
        return any(kind in ("edges", "pageInfo") for _, kind, _ in self.items)

    @property
    def wants_cursors(self) -> bool:
        """Whether any cursor is returned (encoding one per row is skipped when none is)."""
        for _, kind, sub in self.items:
            if kind == "pageInfo" and any(name in ("startCursor", "endCursor") for _, name in sub):
                return True
            if kind == "edges" and any(edge_kind == "cursor" for _, edge_kind in sub[1]):
                return True
        return False


@dataclass(frozen=True, slots=True)
class TypedPlans:
    """A root whose objects' type is known per value only (``_entities``' union, ``node``'s interface): one
    object plan per type the compiler resolves; a value of any other type goes to the resolvers."""

    plans: dict[str, ObjectPlan]


@dataclass(frozen=True, slots=True)
class RootPlan:
    key: str
    name: str
    node: FieldNode
    field: GraphQLField
    plan: ObjectPlan | ConnectionPlan | TypedPlans


@dataclass(frozen=True, slots=True)
class OperationPlan:
    roots: tuple[RootPlan, ...]
    variable_definitions: tuple[VariableDefinitionNode, ...]
    #: Every (type, field) the operation touches: the scopes they declare are checked before it runs.
    fields: frozenset[tuple[str, str]] = field(default_factory=frozenset)


class NotCompiled(Exception):
    """The operation uses something the compiler does not cover; the resolvers answer it."""


def compile_operation(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> OperationPlan | None:
    """The plan of the operation `operation_name` in `document` (already validated), or None."""
    try:
        return _Compiler(schema, document).operation(operation_name)
    except NotCompiled:
        return None


class _Compiler:
    def __init__(self, schema: GraphQLSchema, document: DocumentNode) -> None:
        self.schema = schema
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        self.touched: set[tuple[str, str]] = set()

    def operation(self, name: str | None) -> OperationPlan:
        if name is None:
            if len(self.operations) != 1:
                raise NotCompiled
            op = self.operations[0]
        else:
            found = [o for o in self.operations if o.name is not None and o.name.value == name]
            if len(found) != 1:
                raise NotCompiled
            op = found[0]
        if op.operation is not OperationType.QUERY or op.directives:
            raise NotCompiled
        query_type = self.schema.query_type
        assert query_type is not None
        roots = []
        for key, node in self._fields(op.selection_set, "Query"):
            name_ = node.name.value
            if name_ == "__typename" or name_ not in ROOTS:
                raise NotCompiled
            definition = query_type.fields[name_]
            self.touched.add(("Query", name_))
            shape = ROOTS[name_]
            inner = _named(definition.type)
            plan: ObjectPlan | ConnectionPlan | TypedPlans
            if shape == "object":
                plan = self._object(node.selection_set, inner.name)
            elif shape == "connection":
                plan = self._connection(node.selection_set, inner.name)
            else:
                types = ENTITY_TYPES if shape == "entities" else NODE_TYPES
                plan = TypedPlans({t: self._object(node.selection_set, t, inner.name) for t in sorted(types)})
            roots.append(RootPlan(key, name_, node, definition, plan))
        return OperationPlan(tuple(roots), tuple(op.variable_definitions or ()), frozenset(self.touched))

    def _fields(
        self, selection_set: SelectionSetNode | None, typename: str, abstract: str | None = None
    ) -> Iterator[tuple[str, FieldNode]]:
        """The fields of a selection set for an object of `typename`, fragments flattened, keys unique.

        Under an `abstract` type (the ``_Entity`` union, the ``Node`` interface) the selection is read as
        an object of `typename` would be: fragments on `abstract` apply, fragments on other object types
        do not; fragments on any other abstract type are not compiled.
        """
        if selection_set is None:
            raise NotCompiled
        seen: set[str] = set()
        for key, node in self._flatten(selection_set, typename, abstract, 0):
            if key in seen:
                raise NotCompiled
            seen.add(key)
            yield key, node

    def _flatten(
        self, selection_set: SelectionSetNode, typename: str, abstract: str | None, depth: int
    ) -> Iterator[tuple[str, FieldNode]]:
        if depth > 8:
            raise NotCompiled
        for selection in selection_set.selections:
            if selection.directives:
                raise NotCompiled
            if isinstance(selection, FieldNode):
                yield (selection.alias or selection.name).value, selection
                continue
            if isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = condition.name.value if condition is not None else typename
                inner = selection.selection_set
            else:
                assert isinstance(selection, FragmentSpreadNode)
                fragment = self.fragments.get(selection.name.value)
                if fragment is None:
                    raise NotCompiled
                on, inner = fragment.type_condition.name.value, fragment.selection_set
            if on in (typename, abstract):
                yield from self._flatten(inner, typename, abstract, depth + 1)
            elif abstract is None or not isinstance(self.schema.get_type(on), GraphQLObjectType):
                raise NotCompiled

    def _object(self, selection_set: SelectionSetNode | None, typename: str, abstract: str | None = None) -> ObjectPlan:
        leaves = LEAVES.get(typename)
        graphql_type = self.schema.get_type(typename)
        if leaves is None or not isinstance(graphql_type, GraphQLObjectType):
            raise NotCompiled
        items: list[Leaf | Typename | Relation] = []
        for key, node in self._fields(selection_set, typename, abstract):
            name = node.name.value
            if name == "__typename":
                items.append(Typename(key, typename))
                continue
            self.touched.add((typename, name))
            definition = graphql_type.fields[name]
            if name in leaves:
                if node.arguments:
                    raise NotCompiled
                _check_leaf(definition)
                items.append(Leaf(key, name, leaves[name]))
                continue
            shape = RELATIONS.get((typename, name))
            inner = _named(definition.type)
            if shape in ("object", "list"):
                items.append(Relation(key, name, node, self._object(node.selection_set, inner.name)))
            elif shape == "connection":
                items.append(Relation(key, name, node, self._connection(node.selection_set, inner.name)))
            else:
                raise NotCompiled
        return ObjectPlan(typename, tuple(items))

    def _connection(self, selection_set: SelectionSetNode | None, typename: str) -> ConnectionPlan:
        connection_type = self.schema.get_type(typename)
        if not isinstance(connection_type, GraphQLObjectType):
            raise NotCompiled
        edge_type = _named(connection_type.fields["edges"].type)
        node_typename = _named(edge_type.fields["node"].type).name
        items: list[tuple[str, str, Any]] = []
        node_plan: ObjectPlan | None = None
        for key, node in self._fields(selection_set, typename):
            name = node.name.value
            if name == "__typename":
                items.append((key, "__typename", typename))
            elif name == "totalCount":
                self.touched.add((typename, name))
                items.append((key, "totalCount", None))
            elif name == "pageInfo":
                info = []
                for info_key, info_node in self._fields(node.selection_set, "PageInfo"):
                    if info_node.name.value not in _PAGE_INFO:
                        raise NotCompiled
                    info.append((info_key, info_node.name.value))
                items.append((key, "pageInfo", tuple(info)))
            elif name == "edges":
                edge_items = []
                for edge_key, edge_node in self._fields(node.selection_set, edge_type.name):
                    edge_name = edge_node.name.value
                    if edge_name == "node":
                        if node_plan is not None:
                            raise NotCompiled
                        node_plan = self._object(edge_node.selection_set, node_typename)
                        edge_items.append((edge_key, "node"))
                    elif edge_name in ("cursor", "__typename"):
                        edge_items.append((edge_key, edge_name))
                    else:
                        raise NotCompiled
                items.append((key, "edges", (edge_type.name, tuple(edge_items))))
            else:
                raise NotCompiled
        return ConnectionPlan(typename, tuple(items), node_plan or ObjectPlan(node_typename, ()))


_PAGE_INFO = frozenset({"hasNextPage", "hasPreviousPage", "startCursor", "endCursor"})


def _named(graphql_type: Any) -> Any:
    while isinstance(graphql_type, GraphQLNonNull | GraphQLList):
        graphql_type = graphql_type.of_type
    return graphql_type


def _check_leaf(definition: GraphQLField) -> None:
    if not isinstance(_named(definition.type), GraphQLScalarType | GraphQLEnumType):
        raise NotCompiled
