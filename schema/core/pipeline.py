"""The per-request steps of every GraphQL operation, in order, in one place.

What a request does splits in two. Per document (parse, validation, the limits and the cost they measure,
the control characters of the document's literals, the compiled plan and its SQL text) depends only on
(schema, document, operation, principal shape) and is cached by it. Per request (the strings of the
variables, the caller's budget, the personal-data access log) depends on who asks with which values, so it
runs every time: those checks are :data:`STEPS`, and nothing else performs them.

Both read paths run this one list through :func:`before_execution` and :func:`after_execution`:

- the full pipeline (Strawberry's view and extensions) through the :class:`RequestSteps` extension, after
  parsing, validation and the limits, around execution (the resolvers, or the compiled path);
- the cached path for a repeated compiled read (``api.fast_reads``), which skips only what is per document
  (its entry, ``schema.compiled.fast``, says those checks passed) and runs the plan between the two calls.

A new per-request check is a :class:`Step` added to :data:`STEPS`; it then applies to every operation on
either path (tests/schema/test_pipeline.py adds a dummy one and sees it run on a repeated compiled read).
A step refuses by raising a ``GraphQLError``: the request gets that error as a request error (no ``data``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

from graphql import ExecutionResult, GraphQLError
from strawberry.extensions import SchemaExtension

from schema.core.access_log import AccessLogWithheld, write_access_log
from schema.core.context import Context
from schema.core.errors import RateLimited
from schema.core.input_text import check_variables


@dataclass(slots=True)
class Operation:
    """One operation's per-request facts, as the steps read them."""

    context: Context
    variables: dict[str, Any]
    #: The document's cost as the limits measured it (schema.core.limits), or as the cached entry kept it.
    cost: int


class Step(Protocol):
    """A per-request check: `before` runs ahead of execution (in list order), `after` once it succeeded."""

    async def before(self, operation: Operation) -> None: ...

    async def after(self, operation: Operation) -> None: ...


class ControlCharactersInVariables:
    """The strings of the variables (schema.core.input_text); the document's own literals are per document."""

    async def before(self, operation: Operation) -> None:
        if operation.variables:
            check_variables(operation.variables)

    async def after(self, operation: Operation) -> None:
        return None


class ChargeBudget:
    """The caller's cost budget (schema.core.limits measured the cost; api.graphql's charger charges it)."""

    async def before(self, operation: Operation) -> None:
        charge = operation.context.charge
        if charge is not None:
            retry_after = await charge(operation.cost)
            if retry_after is not None:
                raise RateLimited(retry_after)

    async def after(self, operation: Operation) -> None:
        return None


class PersonalDataAccessLog:
    """The personal-data access log (schema.core.access_log): no response leaves with unlogged reads."""

    async def before(self, operation: Operation) -> None:
        return None

    async def after(self, operation: Operation) -> None:
        if not await write_access_log(operation.context):
            raise AccessLogWithheld


#: Every per-request check, in the order they run.
STEPS: list[Step] = [ControlCharactersInVariables(), ChargeBudget(), PersonalDataAccessLog()]


async def before_execution(operation: Operation) -> None:
    """Every step's `before`, in order; the first refusal (a GraphQLError) stops the operation."""
    for step in STEPS:
        await step.before(operation)


async def after_execution(operation: Operation) -> None:
    """Every step's `after`, in reverse order (the last to check is the first to conclude)."""
    for step in reversed(STEPS):
        await step.after(operation)


async def refused(schema: Any, steps: Awaitable[None]) -> ExecutionResult | None:
    """None when `steps` pass, else the result Strawberry gives for an error raised in an ``on_execute`` hook
    (``data: null`` and the error, made a GraphQLError as Strawberry makes it, and handed to the schema's
    ``process_errors``), for the cached path to answer exactly as the full pipeline would."""
    try:
        await steps
    except Exception as exc:
        error = exc if isinstance(exc, GraphQLError) else GraphQLError(str(exc), original_error=exc)
        schema.process_errors([error])
        return ExecutionResult(data=None, errors=[error])
    return None


class RequestSteps(SchemaExtension):
    """:data:`STEPS` inside Strawberry's pipeline: after the per-document checks, around execution.

    An error raised here reaches the client as Strawberry answers any error of an ``on_execute`` hook:
    ``data: null`` and that error. (Strawberry returns the executor's result even when a hook replaces it
    afterwards, hence a raise rather than a replaced result: tests/schema/test_access_log_withheld.py.)
    """

    async def on_execute(self) -> AsyncIterator[None]:
        ec = self.execution_context
        context = ec.context
        if not isinstance(context, Context):
            yield
            return
        operation = Operation(context, ec.variables or {}, context.cost or 0)
        await before_execution(operation)
        yield
        await after_execution(operation)


__all__ = ["STEPS", "Operation", "RequestSteps", "Step", "after_execution", "before_execution", "refused"]
