"""The compiled read path accounts for every field of the types it compiles.

Each field of a compiled type is a leaf the compiler renders (``LEAVES``), a relation it joins
(``RELATIONS``), or on the explicit resolver-only list with its reason (``RESOLVER_ONLY``). A field in none
of them would make every query that asks for it take the resolvers without anyone noticing.
"""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLObjectType

from auth.policy import PERSONAL_DATA, PERSONAL_FIELDS
from domain.beneficiaries.models import PovertyBeneficiary
from domain.claims.models import Claim
from domain.participants.models import Participant
from domain.read_fields import read_fields
from domain.regions.models import Region
from schema.app import schema
from schema.compiled.plan import LEAVES, NODE_TYPES, RELATIONS, RESOLVER_ONLY, RESOLVER_ONLY_TYPES


def _fields(typename: str) -> set[str]:
    graphql_type = schema._schema.get_type(typename)
    assert isinstance(graphql_type, GraphQLObjectType), typename
    return set(graphql_type.fields)


def test_every_field_of_a_compiled_type_is_compiled_or_listed_with_a_reason() -> None:
    for typename, leaves in LEAVES.items():
        relations = {name for (parent, name) in RELATIONS if parent == typename}
        listed = RESOLVER_ONLY.get(typename)
        assert listed is not None, f"{typename} has no resolver-only list"
        unaccounted = _fields(typename) - set(leaves) - relations - set(listed)
        assert not unaccounted, f"{typename}: {sorted(unaccounted)} are neither compiled nor listed with a reason"
        assert all(reason.strip() for reason in listed.values()), typename


def test_the_lists_name_only_fields_that_exist_and_each_once() -> None:
    for typename, leaves in LEAVES.items():
        fields = _fields(typename)
        relations = {name for (parent, name) in RELATIONS if parent == typename}
        listed = set(RESOLVER_ONLY[typename])
        assert set(leaves) <= fields, (typename, sorted(set(leaves) - fields))
        assert relations <= fields, (typename, sorted(relations - fields))
        assert listed <= fields, (typename, sorted(listed - fields))
        assert not set(leaves) & listed, typename
        assert not relations & listed, typename
    assert set(RESOLVER_ONLY) == set(LEAVES)


def test_every_table_backed_type_is_compiled_or_listed_with_a_reason() -> None:
    """Every Relay node (each is a table's row) is compiled, with ``node(id)`` among its compiled roots, or is
    left to its resolvers as a whole with the reason written down."""
    graphql = schema._schema
    nodes = {t.name for t in graphql.get_possible_types(graphql.get_type("Node"))}
    assert nodes, "the schema has Relay nodes"
    for typename in sorted(nodes):
        if typename in RESOLVER_ONLY_TYPES:
            assert RESOLVER_ONLY_TYPES[typename].strip(), typename
            assert typename not in LEAVES, f"{typename} is compiled and listed"
            assert typename not in NODE_TYPES, f"node(id) of a {typename} is compiled and it is listed"
        else:
            assert typename in LEAVES, f"{typename} is neither compiled nor on RESOLVER_ONLY_TYPES with a reason"
            assert typename in NODE_TYPES, f"node(id) of a {typename} is not compiled"
    assert set(RESOLVER_ONLY_TYPES) <= nodes, sorted(set(RESOLVER_ONLY_TYPES) - nodes)


#: The table-backed types whose served columns are declared beside the columns, and the GraphQL type of each.
DECLARED: dict[type[Any], str] = {
    Participant: "Participant",
    Claim: "Claim",
    PovertyBeneficiary: "PovertyBeneficiary",
    Region: "Region",
}

#: Leaves computed from a column rather than served as it (``enrolled``: whether the link is set; a region's
#: Relay ``id``: its code).
DERIVED_LEAVES = {"PovertyBeneficiary": {"enrolled"}, "Region": {"id"}}


@pytest.mark.parametrize("model", list(DECLARED), ids=lambda m: m.__name__)
def test_fields_follow_the_declarations_beside_their_columns(model: type[Any]) -> None:
    """The compiled leaves, the personal-data rules and the GraphQL fields of a type are all one source."""
    typename = DECLARED[model]
    declared = read_fields(model)
    graphql_type = schema._schema.get_type(typename)
    assert isinstance(graphql_type, GraphQLObjectType)
    derived = {k: v for k, v in LEAVES[typename].items() if k not in DERIVED_LEAVES.get(typename, {})}
    assert derived == {f.name: column for column, f in declared.items()}
    for column, f in declared.items():
        assert f.name in graphql_type.fields, column
        if f.name != "id":  # the Relay id keeps the Node interface's description
            assert graphql_type.fields[f.name].description == f.description, column
        assert PERSONAL_DATA.get(model, {}).get(column) == f.treatment, column
        assert PERSONAL_FIELDS.get(typename, {}).get(f.name) == f.treatment, column
    assert set(PERSONAL_DATA.get(model, {})) <= set(declared)
