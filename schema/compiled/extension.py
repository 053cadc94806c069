"""Hooks the compiled read path into Strawberry: after parsing, validation and the limits, before execution.

Everything before execution stays as it is (the parse and validation caches, the depth, alias and token
limits, whatever refuses a document), and so does everything after it (the personal-data access log, error
formatting). When the operation has a plan and the caller holds every scope its fields declare, this
extension answers it and graphql-core's executor is skipped; otherwise, or when the plan meets something
the resolvers would refuse, the resolvers run as if the extension were not there.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

from graphql import ExecutionResult
from strawberry.extensions import SchemaExtension
from strawberry.types.base import StrawberryObjectDefinition

from auth.principal import Principal
from auth.scopes import Scope
from schema.compiled.fast import Ready, ready_key
from schema.compiled.plan import OperationPlan, Plans, compile_operation
from schema.compiled.run import Fallback, run_operation
from schema.compiled.sql_json import covers
from schema.core.context import Context

log = logging.getLogger("jamsos.compiled")

#: The "needs authentication" marker among a field's requirements.
AUTHENTICATED = "authenticated"


def field_requirements(schema: Any) -> dict[tuple[str, str], tuple[Scope | str, ...]]:
    """(GraphQL type, field) -> the scopes its permission classes enforce, read from the schema itself."""
    cached: dict[tuple[str, str], tuple[Scope | str, ...]] | None = getattr(schema, "_compiled_requirements", None)
    if cached is not None:
        return cached
    names = schema.config.name_converter
    found: dict[tuple[str, str], tuple[Scope | str, ...]] = {}
    for typename, concrete in schema.schema_converter.type_map.items():
        definition = concrete.definition
        if not isinstance(definition, StrawberryObjectDefinition):
            continue
        for f in definition.fields:
            needs: list[Scope | str] = []
            for permission in f.permission_classes:
                scope = getattr(permission, "scope", None)
                needs.append(scope if isinstance(scope, Scope) else AUTHENTICATED)
            if needs:
                found[(typename, names.get_graphql_name(f))] = tuple(needs)
    # _entities checks authentication itself and each type's resolve_reference its read scope (the compiled
    # path checks the scope of each representation's type when it runs: schema.compiled.run).
    found[("Query", "_entities")] = (AUTHENTICATED,)
    schema._compiled_requirements = found
    return found


Requirements = dict[tuple[str, str], tuple[Scope | str, ...]]


def allowed(plan: OperationPlan, principal: Principal, requirements: Requirements) -> bool:
    """Whether no field of `plan` would refuse `principal` (if one would, the resolvers give the error)."""
    for field in plan.fields:
        for need in requirements.get(field, ()):
            if need == AUTHENTICATED:
                if not principal.is_authenticated:
                    return False
            elif not (principal.is_authenticated and principal.has_scope(need)):  # type: ignore[arg-type]
                return False
    return True


def plan_for(plans: Plans, schema: Any, query: str, operation_name: str | None, document: Any) -> OperationPlan | None:
    key = (query, operation_name)
    cached = plans.get(key)
    if not plans.missing(cached):
        return cached  # type: ignore[return-value]  # a hit is what put() stored
    plan = compile_operation(schema._schema, document, operation_name)
    if plan is not None and not covers(plan, schema._schema):
        plan = None  # something no JSON statement renders: the resolvers answer it, every time
    plans.put(key, plan)
    return plan


class CompiledReads(SchemaExtension):
    """Answers covered read operations from the compiled path; leaves everything else to the resolvers."""

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        context = ec.context
        if (
            isinstance(context, Context)
            and context.compiled_reads
            and ec.result is None
            and ec.query is not None
            and ec.graphql_document is not None
        ):
            plan = plan_for(context.plans, ec.schema, ec.query, ec.operation_name, ec.graphql_document)
            if plan is not None and allowed(plan, context.principal, field_requirements(ec.schema)):
                try:
                    data = await run_operation(plan, ec.schema, context, ec.variables)
                except Fallback:
                    context.counters.fallbacks += 1
                else:
                    context.counters.compiled += 1
                    ec.result = ExecutionResult(data=data)
                    # Under the name as the request gave it (None for a one-operation document), which
                    # is what the fast lane sees (``ec.operation_name`` falls back to the document's);
                    # only when the HTTP view recorded it (api.graphql).
                    given = context.request_operation
                    if context.ready is not None and context.cost is not None and given is not None:
                        key = ready_key(ec.query, given[0], context.principal, ec.variables)
                        context.ready.put(key, Ready(plan, context.cost))
        yield
