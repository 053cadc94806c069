"""Introspection (``__schema``, ``__type``) only where the context allows it: development.

The rule is graphql-core's ``NoSchemaIntrospectionCustomRule``, added to validation when the request's
context says introspection is off. The rule tuple is the same object for every such request, so a
validation cache keyed by the rules still hits. ``_service { sdl }`` is an ordinary field and stays
public: it is how a router reads the subgraph (ADR 0002).
"""

from __future__ import annotations

from collections.abc import Iterator

from graphql.validation import NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension

_NO_INTROSPECTION = (NoSchemaIntrospectionCustomRule,)


class IntrospectionGate(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        if not getattr(self.execution_context.context, "introspection", True):
            context = self.execution_context
            context.validation_rules = context.validation_rules + _NO_INTROSPECTION
        yield


__all__ = ["IntrospectionGate"]
