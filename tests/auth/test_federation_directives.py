"""The subgraph SDL's ``@authenticated`` / ``@requiresScopes`` are exactly what the service enforces itself.

One declaration (``schema.core.permissions.needs`` / ``needs_authentication``) gives a field its permission class,
and, with JAMSOS_FEDERATION_SECURITY_DIRECTIVES on, its directive; this test prints that SDL (in a process
of its own: one process serves one SDL) and compares it with the schema's permission classes, so a gateway
enforcing the directives at the edge and the subgraph agree. By default the SDL carries none of them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from functools import cache
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
from schema.core.permissions import IsAuthenticated

Rules = dict[tuple[str, str], tuple[frozenset[frozenset[str]], bool]]


def _scopes(node: Any) -> frozenset[frozenset[str]]:
    assert isinstance(node, ListValueNode)
    groups = []
    for group in node.values:
        assert isinstance(group, ListValueNode)
        groups.append(frozenset(v.value for v in group.values if isinstance(v, StringValueNode)))
    return frozenset(groups)


@cache
def security_sdl() -> str:
    """`jamsos schema print` with the security directives on."""
    env = os.environ | {"JAMSOS_FEDERATION_SECURITY_DIRECTIVES": "true", "JAMSOS_ENV": "test"}
    result = subprocess.run(  # fixed arguments
        [sys.executable, "-m", "api.cli", "schema", "print"], capture_output=True, text=True, env=env, check=True
    )
    return result.stdout


def sdl_rules(sdl: str) -> Rules:
    rules: Rules = {}
    for definition in parse(sdl).definitions:
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


def test_default_sdl_has_no_security_directives() -> None:
    """A stock gateway refuses a supergraph linking them `for: SECURITY`; by default we give it none."""
    sdl = schema.as_str()
    assert sdl_rules(sdl) == {}
    assert "@authenticated" not in sdl
    assert "@requiresScopes" not in sdl
    assert 'federation/v2.9"' in sdl


def test_sdl_directives_are_the_enforced_rules() -> None:
    sdl = security_sdl()
    assert '"@requiresScopes"' in sdl
    assert '"@authenticated"' in sdl
    printed, enforced = sdl_rules(sdl), enforced_rules()
    assert printed == enforced
    assert ("Query", "me") in printed
    assert ("Query", "explainAccess") in printed
    assert printed[("Participant", "claims")] == (frozenset({frozenset({"claims:read"})}), False)


async def test_authenticated_fields_refuse_anonymous_callers(client: httpx.AsyncClient) -> None:
    for query in ("{ me { subject } }", '{ explainAccess(typename: "Claim", id: "1") { visible } }'):
        body = (await client.post("/graphql", json={"query": query})).json()
        assert body["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", query
