"""Federation entity resolution: what ``_entities`` accepts before any resolver or SQL runs.

A router sends ``_entities(representations: [...])`` with one ``{__typename, <key fields>}`` object per
entity it needs. Strawberry hands each one to the type's ``resolve_reference`` (which loads through the
per-request, region-scoped DataLoaders, so N representations of a type cost one statement). This module
checks the batch first, so that malformed input gets one clear BAD_USER_INPUT error instead of one
internal error per item, and an oversized batch is refused as QUERY_TOO_COMPLEX:

- at most ``Limits.max_entity_representations`` representations (JAMSOS_MAX_ENTITY_REPRESENTATIONS);
- each is an object whose ``__typename`` names an entity this subgraph resolves;
- each carries every field of at least one of that type's ``@key``\\ s, and key values are strings
  (all our keys are ``String!`` or ``ID!``; :class:`EntitySchema` refuses to build otherwise);
- nobody anonymous: every entity needs a read scope, so an anonymous call gets one UNAUTHENTICATED
  error, not one per representation.

A well-formed key of a row that does not exist, or that lies outside the caller's region, resolves to
``null`` without an error, like every other lookup.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import strawberry
from graphql import GraphQLError, GraphQLNonNull, GraphQLObjectType, GraphQLScalarType
from strawberry.federation.schema import FederationAny
from strawberry.federation.schema_directives import Key
from strawberry.types import ExecutionContext
from strawberry.types.base import StrawberryObjectDefinition

from auth.policy import NotAuthenticated
from schema.core.errors import BadInput, QueryTooComplex, log_unexpected

#: Key field sets per entity type name, e.g. ``{"Participant": [("id",), ("membershipNumber",)]}``.
EntityKeys = Mapping[str, Sequence[tuple[str, ...]]]

_STRING_KEY_TYPES = frozenset({"String", "ID"})


def check_representations(representations: Sequence[Any], keys: EntityKeys, maximum: int) -> None:
    """Raise QueryTooComplex or BadInput for the first problem in `representations`; None when all is well."""
    if len(representations) > maximum:
        raise QueryTooComplex(
            f"_entities was sent {len(representations)} representations; this subgraph resolves at most "
            f"{maximum} per request. Send them in smaller batches (a router can limit its batch size)."
        )
    for index, representation in enumerate(representations):
        _check_one(index, representation, keys)


def _check_one(index: int, representation: Any, keys: EntityKeys) -> None:
    where = f"representations[{index}]"
    if not isinstance(representation, dict):
        raise BadInput(f"{where} must be an object with __typename and the key fields of an entity", field=where)
    type_name = representation.get("__typename")
    if not isinstance(type_name, str) or type_name not in keys:
        known = ", ".join(sorted(keys))
        raise BadInput(
            f"{where}: {type_name!r} is not an entity this subgraph resolves; its entities are {known}",
            field=f"{where}.__typename",
        )
    for name, value in representation.items():
        if name != "__typename" and _is_key_field(name, keys[type_name]) and not isinstance(value, str):
            raise BadInput(
                f"{where}: {type_name}.{name} must be a string; {type(value).__name__} {value!r:.40} was given",
                field=f"{where}.{name}",
            )
    if not any(all(name in representation for name in key) for key in keys[type_name]):
        wanted = " or ".join(" and ".join(key) for key in keys[type_name])
        raise BadInput(f"{where}: a {type_name} representation needs {wanted}", field=where)


def _is_key_field(name: str, key_sets: Sequence[tuple[str, ...]]) -> bool:
    return any(name in key for key in key_sets)


class EntitySchema(strawberry.federation.Schema):
    """The federation Schema with ``_entities`` guarded by :func:`check_representations`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.entity_keys: EntityKeys = self._resolvable_keys()

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        # Strawberry logs every error with its traceback; bad input and denied access are answers, not faults.
        log_unexpected(errors)

    def entities_resolver(self, info: strawberry.Info, representations: list[FederationAny]) -> list[FederationAny]:
        context = info.context
        if not context.principal.is_authenticated:
            raise NotAuthenticated
        check_representations(representations, self.entity_keys, context.limits.max_entity_representations)
        return super().entities_resolver(info, representations)

    def _resolvable_keys(self) -> dict[str, list[tuple[str, ...]]]:
        found: dict[str, list[tuple[str, ...]]] = {}
        for name, concrete in self.schema_converter.type_map.items():
            definition = concrete.definition
            if not isinstance(definition, StrawberryObjectDefinition):
                continue
            key_sets = [
                tuple(str(d.fields).split())
                for d in definition.directives or ()
                if isinstance(d, Key) and d.resolvable is not False
            ]
            if not key_sets or not hasattr(definition.origin, "resolve_reference"):
                continue
            graphql_type = concrete.implementation
            assert isinstance(graphql_type, GraphQLObjectType)
            for field_name in {f for key in key_sets for f in key}:
                _require_string_key(graphql_type, field_name)
            found[name] = key_sets
        return found


def _require_string_key(graphql_type: GraphQLObjectType, field_name: str) -> None:
    field = graphql_type.fields.get(field_name)
    inner = field.type.of_type if field and isinstance(field.type, GraphQLNonNull) else None
    if not (isinstance(inner, GraphQLScalarType) and inner.name in _STRING_KEY_TYPES):
        raise TypeError(
            f"@key field {graphql_type.name}.{field_name} must be String! or ID!; "
            "schema.core.entities checks key values as strings"
        )


__all__ = ["EntityKeys", "EntitySchema", "check_representations"]
