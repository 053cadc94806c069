"""The subgraph SDL's ``@authenticated`` / ``@requiresScopes`` are exactly what the service enforces itself.

One declaration (``schema.permissions.needs`` / ``needs_authentication``) gives a field both its permission
class and its directive; this test reads the printed SDL and the schema's permission classes and checks they
name the same fields and scopes, so a router enforcing the directives at the edge and the subgraph agree.
"""

from __future__ import annotations

from typing import Any

import httpx
from graphql import (
    GraphQLObjectType,
    ListValueNode,
    ObjectTypeDefinitionNode,
    ObjectTypeExtensionNode,
    StringValueNode,
    parse,
)

from auth.scopes import Scope
from schema.app import schema
from schema.permissions import IsAuthenticated

Rules = dict[tuple[str, str], tuple[frozenset[frozenset[str]], bool]]


def _scopes(node: Any) -> frozenset[frozenset[str]]:
    assert isinstance(node, ListValueNode)
    groups = []
    for group in node.values:
        assert isinstance(group, ListValueNode)
        groups.append(frozenset(v.value for v in group.values if isinstance(v, StringValueNode)))
    return frozenset(groups)


def sdl_rules() -> Rules:
    rules: Rules = {}
    for definition in parse(schema.as_str()).definitions:
        if not isinstance(definition, ObjectTypeDefinitionNode | ObjectTypeExtensionNode):
            continue
        type_directives = {d.name.value for d in definition.directives or ()}
        assert not type_directives & {"authenticated", "requiresScopes", "policy"}, definition.name.value
        for field in definition.fields or ():
            scopes: frozenset[frozenset[str]] = frozenset()
            authenticated = False
            for directive in field.directives or ():
                if directive.name.value == "requiresScopes":
                    scopes = _scopes(next(a.value for a in directive.arguments if a.name.value == "scopes"))
                elif directive.name.value == "authenticated":
                    authenticated = True
            if scopes or authenticated:
                rules[(definition.name.value, field.name.value)] = (scopes, authenticated)
    return rules


def enforced_rules() -> Rules:
    rules: Rules = {}
    names = schema.config.name_converter
    for type_name, graphql_type in schema._schema.type_map.items():
        definition = schema.get_type_by_name(type_name)
        if not isinstance(graphql_type, GraphQLObjectType) or definition is None:
            continue
        for field in getattr(definition, "fields", []):
            if not field.permission_classes:
                continue
            required = set()
            authenticated = False
            for permission in field.permission_classes:
                scope = getattr(permission, "scope", None)
                if isinstance(scope, Scope):
                    required.add(scope.value)
                elif permission is IsAuthenticated:
                    authenticated = True
                else:
                    raise AssertionError(f"{type_name}.{field.python_name}: {permission} has no directive")
            scopes = frozenset({frozenset(required)}) if required else frozenset()
            rules[(type_name, names.get_graphql_name(field))] = (scopes, authenticated)
    return rules


def test_sdl_directives_are_the_enforced_rules() -> None:
    printed, enforced = sdl_rules(), enforced_rules()
    assert printed == enforced
    assert ("Query", "me") in printed
    assert ("Query", "explainAccess") in printed
    assert printed[("Participant", "claims")] == (frozenset({frozenset({"claims:read"})}), False)


async def test_authenticated_fields_refuse_anonymous_callers(client: httpx.AsyncClient) -> None:
    for query in ("{ me { subject } }", '{ explainAccess(typename: "Claim", id: "1") { visible } }'):
        body = (await client.post("/graphql", json={"query": query})).json()
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", query
