"""The schema is the frontend teams' documentation: every type, field, argument and enum value is described."""

from __future__ import annotations

from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
)

from schema.app import schema

# Types that graphql-core, Strawberry's relay module or the federation spec define, not us.
FOREIGN = {
    "_Service",
    "_Any",
    "_Entity",
    "_FieldSet",
    "link__Import",
    "link__Purpose",
    "federation__Scope",
    "PageInfo",
    "Node",
}


def test_every_element_has_a_description() -> None:
    missing: list[str] = []
    for name, graphql_type in schema._schema.type_map.items():
        if name.startswith("__") or name in FOREIGN or not hasattr(graphql_type, "description"):
            continue
        if name in ("String", "Int", "Float", "Boolean", "ID"):
            continue
        if not graphql_type.description:
            missing.append(name)
        if isinstance(graphql_type, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in graphql_type.fields.items():
                if field_name.startswith("_"):
                    continue
                if not field.description:
                    missing.append(f"{name}.{field_name}")
                missing.extend(
                    f"{name}.{field_name}({arg_name})" for arg_name, arg in field.args.items() if not arg.description
                )
        elif isinstance(graphql_type, GraphQLInputObjectType):
            missing.extend(f"{name}.{f}" for f, field in graphql_type.fields.items() if not field.description)
        elif isinstance(graphql_type, GraphQLEnumType):
            missing.extend(f"{name}.{v}" for v, value in graphql_type.values.items() if not value.description)
    assert missing == []
