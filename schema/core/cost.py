"""What a GraphQL document costs, computed before it runs, from the ``@listSize``/``@cost`` the SDL advertises.

The rules are the ones a Federation 2 router's demand control applies to our SDL, so the router's estimate
and this server's refusal agree:

- every object a field returns costs its ``@cost`` weight (1 by default) plus its selections; a scalar or
  enum field costs its weight (0 by default); a mutation root field costs 10 plus its selections;
- a list of objects costs its size times that: the value of its slicing argument (``first``) when the
  document gives one (a literal or a variable), else its ``assumedSize``; a connection passes the size on
  to its ``sizedFields`` (``edges``) instead of multiplying itself;
- fragments are expanded where they are spread (each distinct fragment is priced once per place it can be
  priced differently), so ``...F`` costs what writing ``F`` out would.

The same walk measures depth (fields nested in fields, through fragments) and counts aliases. Fragment
spreads are followed iteratively first, so a cycle or an absurdly long chain is refused without Python
recursion (graphql-core's own cycle check recurses, which is why this runs before validation).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLSchema,
    GraphQLUnionType,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
    VariableNode,
)
from strawberry.federation.schema_directives import Cost, ListSize

#: Apollo's demand-control defaults: an object costs 1, a leaf 0, a mutation root field 10.
OBJECT_WEIGHT = 1
LEAF_WEIGHT = 0
MUTATION_WEIGHT = 10


@dataclass(frozen=True)
class FieldPrice:
    """What the SDL says about one field: its weight and, for a list, how it is sized."""

    weight: int | None = None
    assumed_size: int | None = None
    slicing_arguments: tuple[str, ...] = ()
    sized_fields: frozenset[str] = frozenset()


@dataclass
class Measure:
    """The figures of one operation: its cost, its depth, its aliases and its deepest fragment chain."""

    cost: int = 0
    depth: int = 0
    aliases: int = 0
    fragment_nesting: int = 0


class FragmentProblem(Exception):
    """Fragments that spread each other in a cycle, or in a chain longer than the limit."""

    def __init__(self, message: str, nesting: int) -> None:
        super().__init__(message)
        self.nesting = nesting


def price_table(schema: GraphQLSchema) -> dict[tuple[str, str], FieldPrice]:
    """Read every field's ``@cost``/``@listSize`` from the Strawberry definitions behind `schema`."""
    table: dict[tuple[str, str], FieldPrice] = {}
    for type_name, graphql_type in schema.type_map.items():
        if not isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType) or type_name.startswith("__"):
            continue
        for field_name, graphql_field in graphql_type.fields.items():
            definition = graphql_field.extensions.get("strawberry-definition")
            directives = list(getattr(definition, "directives", None) or ())
            weight = next((d.weight for d in directives if isinstance(d, Cost)), None)
            size = next((d for d in directives if isinstance(d, ListSize)), None)
            if weight is None and size is None:
                continue
            table[(type_name, field_name)] = FieldPrice(
                weight=weight,
                assumed_size=_int_or_none(size.assumed_size) if size else None,
                slicing_arguments=tuple(_list_or_empty(size.slicing_arguments)) if size else (),
                sized_fields=frozenset(_list_or_empty(size.sized_fields)) if size else frozenset(),
            )
    return table


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def _list_or_empty(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list | tuple) else []


def fragment_nesting(document: DocumentNode, maximum: int) -> int:
    """The longest chain of fragment spreads in `document`; FragmentProblem for a cycle or a chain over `maximum`.

    Iterative (Kahn's algorithm over the spread graph), so neither a cycle nor a chain of thousands of
    fragments can exhaust the interpreter's stack.
    """
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    spreads: dict[str, set[str]] = {name: _spreads(d.selection_set) & fragments.keys() for name, d in fragments.items()}
    spread_by: dict[str, set[str]] = {name: set() for name in fragments}
    for name, targets in spreads.items():
        for target in targets:
            spread_by[target].add(name)
    # Leaves first: a fragment's chain length is 1 + the longest chain of the fragments it spreads.
    pending = {name: len(targets) for name, targets in spreads.items()}
    ready = [name for name, n in pending.items() if n == 0]
    chain: dict[str, int] = {}
    while ready:
        name = ready.pop()
        chain[name] = 1 + max((chain[t] for t in spreads[name]), default=0)
        if chain[name] > maximum:
            raise FragmentProblem(
                f"fragment {name} starts a chain of {chain[name]} nested fragment spreads; at most {maximum} "
                "are allowed",
                chain[name],
            )
        for parent in spread_by[name]:
            pending[parent] -= 1
            if pending[parent] == 0:
                ready.append(parent)
    cyclic = sorted(set(fragments) - set(chain))
    if cyclic:
        raise FragmentProblem(f"fragments spread each other in a cycle: {', '.join(cyclic[:5])}", len(cyclic))
    return max(
        (
            max((chain[n] for n in _spreads(d.selection_set) if n in chain), default=0)
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
        ),
        default=0,
    )


def _spreads(selection_set: SelectionSetNode | None) -> set[str]:
    """Names of the fragments spread anywhere inside `selection_set` (iteratively)."""
    found: set[str] = set()
    stack = [selection_set] if selection_set else []
    while stack:
        current = stack.pop()
        for selection in current.selections:
            if isinstance(selection, FragmentSpreadNode):
                found.add(selection.name.value)
            elif (inner := getattr(selection, "selection_set", None)) is not None:
                stack.append(inner)
    return found


@dataclass
class _Walk:
    schema: GraphQLSchema
    prices: Mapping[tuple[str, str], FieldPrice]
    fragments: Mapping[str, FragmentDefinitionNode]
    variables: Mapping[str, Any]
    max_size: int
    memo: dict[tuple[str, str, frozenset[str], int], tuple[int, int]] = field(default_factory=dict)

    def selection_set(
        self, node: SelectionSetNode, parent: GraphQLNamedType | None, sized: frozenset[str], size: int
    ) -> tuple[int, int]:
        """(cost, depth) of `node` selected on `parent`; `sized` fields of it are lists of `size` items."""
        cost = depth = 0
        for selection in node.selections:
            if isinstance(selection, FieldNode):
                c, d = self.field(selection, parent, sized, size)
            elif isinstance(selection, InlineFragmentNode):
                on = self._named(selection.type_condition.name.value) if selection.type_condition else parent
                c, d = self.selection_set(selection.selection_set, on, sized, size)
            else:
                assert isinstance(selection, FragmentSpreadNode)
                c, d = self.spread(selection.name.value, sized, size)
            cost += c
            depth = max(depth, d)
        return cost, depth

    def spread(self, name: str, sized: frozenset[str], size: int) -> tuple[int, int]:
        fragment = self.fragments.get(name)
        if fragment is None:
            return 0, 0  # validation reports the unknown fragment
        key = (name, fragment.type_condition.name.value, sized, size)
        if key not in self.memo:
            on = self._named(fragment.type_condition.name.value)
            self.memo[key] = self.selection_set(fragment.selection_set, on, sized, size)
        return self.memo[key]

    def field(
        self, node: FieldNode, parent: GraphQLNamedType | None, sized: frozenset[str], size: int
    ) -> tuple[int, int]:
        name = node.name.value
        if name.startswith("__"):
            return 0, 0  # introspection (development only) and __typename: free, and not counted as depth
        graphql_field = (
            parent.fields.get(name) if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) else None
        )
        if graphql_field is None:
            return 0, 0  # __typename, or a field validation will refuse
        assert parent is not None
        price = self.prices.get((parent.name, name), FieldPrice())
        is_list, inner = _list_and_inner(graphql_field.type)
        if node.selection_set is None:
            return (price.weight if price.weight is not None else LEAF_WEIGHT), 1
        weight = price.weight if price.weight is not None else OBJECT_WEIGHT
        if parent is self.schema.mutation_type:
            weight = max(weight, MUTATION_WEIGHT)
        child_sized = price.sized_fields
        child_size = self._slice(node, price) if child_sized else 1
        child_cost, child_depth = self.selection_set(node.selection_set, inner, child_sized, child_size)
        if name in sized:
            multiplier = size
        elif is_list and not price.sized_fields:
            multiplier = self._slice(node, price)
        else:
            multiplier = 1
        return multiplier * (weight + child_cost), child_depth + 1

    def _slice(self, node: FieldNode, price: FieldPrice) -> int:
        """The list size a field asks for: its slicing argument, else what the SDL assumes."""
        for argument in node.arguments or ():
            if argument.name.value not in price.slicing_arguments:
                continue
            value = argument.value
            if isinstance(value, IntValueNode):
                return max(0, min(int(value.value), self.max_size))
            if isinstance(value, VariableNode):
                given = self.variables.get(value.name.value)
                if isinstance(given, int) and not isinstance(given, bool):
                    return max(0, min(given, self.max_size))
        return price.assumed_size if price.assumed_size is not None else self.max_size

    def _named(self, name: str) -> GraphQLNamedType | None:
        found = self.schema.type_map.get(name)
        return found if isinstance(found, GraphQLObjectType | GraphQLInterfaceType | GraphQLUnionType) else None


def _list_and_inner(graphql_type: GraphQLOutputType) -> tuple[bool, GraphQLNamedType]:
    is_list = False
    current: Any = graphql_type
    while isinstance(current, GraphQLNonNull | GraphQLList):
        is_list = is_list or isinstance(current, GraphQLList)
        current = current.of_type
    return is_list, current


def measure(
    schema: GraphQLSchema,
    prices: Mapping[tuple[str, str], FieldPrice],
    document: DocumentNode,
    *,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    max_fragment_nesting: int,
    max_depth: int,
    max_list_size: int,
) -> Measure:
    """Cost, depth and aliases of the operation `document` would run (FragmentProblem for bad fragments).

    A document whose fields are written nested deeper than `max_depth` is measured by that alone (cost 0):
    the walk below recurses once per level, so it only runs on documents whose depth is already bounded.
    """
    nesting = fragment_nesting(document, max_fragment_nesting)
    written = written_depth(document)
    if written > max_depth:
        return Measure(depth=written, aliases=_aliases(document), fragment_nesting=nesting)
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    chosen = [o for o in operations if operation_name is None or (o.name and o.name.value == operation_name)]
    walk = _Walk(schema, prices, fragments, variables or {}, max_list_size)
    result = Measure(fragment_nesting=nesting, aliases=_aliases(document))
    for operation in chosen[:1] if operation_name or len(chosen) == 1 else chosen:
        root = {
            OperationType.QUERY: schema.query_type,
            OperationType.MUTATION: schema.mutation_type,
            OperationType.SUBSCRIPTION: schema.subscription_type,
        }[operation.operation]
        cost, depth = walk.selection_set(operation.selection_set, root, frozenset(), 1)
        result.cost = max(result.cost, cost)
        result.depth = max(result.depth, depth)
    return result


def _written(document: DocumentNode) -> Iterator[tuple[Any, int]]:
    """Every selection as written in the document's operations and fragments (fragments not expanded), with
    the depth of fields it sits at; iteratively, so that no nesting can exhaust the stack."""
    stack: list[tuple[SelectionSetNode, int]] = [
        (d.selection_set, 0) for d in document.definitions if hasattr(d, "selection_set") and d.selection_set
    ]
    while stack:
        current, depth = stack.pop()
        for selection in current.selections:
            level = depth + (1 if isinstance(selection, FieldNode) else 0)
            yield selection, level
            if (inner := getattr(selection, "selection_set", None)) is not None:
                stack.append((inner, level))


def written_depth(document: DocumentNode) -> int:
    """The deepest nesting of fields as written in any one definition (fragments not expanded)."""
    return max(
        (level for selection, level in _written(document) if getattr(selection, "selection_set", None) is None),
        default=0,
    )


@dataclass(frozen=True)
class DirectiveCount:
    """Directives written in a document: in all, and the most on any one place that takes them."""

    total: int
    most_in_one_place: int


def count_directives(document: DocumentNode) -> DirectiveCount:
    """Directives as written (fragments not expanded), on every place the grammar allows them: operations,
    their variables, fragment definitions, fields, fragment spreads and inline fragments. Iterative."""
    total = most = 0

    def note(directives: Any) -> None:
        nonlocal total, most
        n = len(directives or ())
        total += n
        most = max(most, n)

    for definition in document.definitions:
        note(getattr(definition, "directives", None))  # type system definitions too: validation refuses them
        for variable in getattr(definition, "variable_definitions", None) or ():
            note(variable.directives)
    for selection, _ in _written(document):
        note(selection.directives)
    return DirectiveCount(total, most)


def _aliases(document: DocumentNode) -> int:
    """Aliased fields written in the document (in operations and fragments alike)."""
    written = _written(document)
    return sum(1 for selection, _ in written if isinstance(selection, FieldNode) and selection.alias is not None)


__all__ = [
    "DirectiveCount",
    "FieldPrice",
    "FragmentProblem",
    "Measure",
    "count_directives",
    "fragment_nesting",
    "measure",
    "price_table",
    "written_depth",
]
