"""The numbers that bound one GraphQL request, in one place, and the extension that enforces them.

The server enforces them (page sizes, query depth, aliases, tokens, cost, entity representations, the
per-caller cost budget) and the subgraph SDL advertises the same numbers to a Federation 2 router as
demand-control directives (``@listSize``, ``@cost``), so the router's cost estimate and the server's
refusals cannot drift apart. Every refusal is ``QUERY_TOO_COMPLEX`` (or ``RATE_LIMITED`` for the budget, which
the per-request steps charge: schema.core.pipeline) with the measured figure and the limit in the message and
in ``extensions``, before anything executes.

:class:`QueryLimits` is one Strawberry extension, built per request from a factory made once per schema
(:func:`limits_extension`). It adds no validation rule, so it never changes the key of a validation cache:
the token limit is the parser's, and directives, depth, aliases, fragment nesting and cost are measured
right after parsing, before validation (schema.core.cost walks the document iteratively where graphql-core would
recurse).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from graphql import GraphQLError, GraphQLSchema, Lexer, Source, TokenKind
from prometheus_client import Counter
from strawberry.extensions import SchemaExtension

from schema.core.bounds import (
    MAX_PAGE_SIZE,
    Limits,
)
from schema.core.cost import FieldPrice, FragmentProblem, count_directives, measure, price_table
from schema.core.errors import QueryTooComplex

COST_REFUSALS = Counter("jamsos_query_too_complex_total", "Documents refused before execution", ["limit"])


def _refuse(limit: str, what: str, measured: int, maximum: int, hint: str) -> QueryTooComplex:
    COST_REFUSALS.labels(limit).inc()
    return QueryTooComplex(
        f"{what} is {measured:,}, above the limit of {maximum:,}. {hint}",
        limit=limit,
        measured=measured,
        maximum=maximum,
    )


def _within(limit: str, what: str, measured: int, maximum: int, hint: str) -> None:
    """Refuse the document (QUERY_TOO_COMPLEX, counted) when `measured` is above `maximum`."""
    if measured > maximum:
        raise _refuse(limit, what, measured, maximum, hint)


def _is_token_limit(error: GraphQLError) -> bool:
    return "tokens" in error.message and "Parsing aborted" in error.message


def _count_tokens(text: str, cap: int) -> int:
    """Tokens in `text`, counting at most `cap` (the document was already refused by the parser)."""
    lexer, count = Lexer(Source(text)), 0
    try:
        while lexer.advance().kind is not TokenKind.EOF and count < cap:
            count += 1
    except GraphQLError:
        pass  # a syntax error further on: what was counted stands
    return count


class QueryLimits(SchemaExtension):
    """Refuses a document over any limit before it executes, and records its cost on the context.

    The charge itself is a per-request step (schema.core.pipeline.ChargeBudget), which the cached path for a
    repeated read runs as well, with the cost its entry kept (schema.compiled.fast).
    """

    def __init__(self, prices: Mapping[tuple[str, str], FieldPrice]) -> None:
        self.prices = prices
        self.cost = 0

    def _limits(self) -> Limits:
        limits = getattr(self.execution_context.context, "limits", None)
        return limits if isinstance(limits, Limits) else Limits()

    def on_operation(self) -> Iterator[None]:
        self.execution_context.parse_options["max_tokens"] = self._limits().max_tokens
        try:
            yield
        except GraphQLError as error:
            # A parser cache parses inside its own hook, so the parser's token error escapes the parsing
            # step instead of being returned from it; it passes through here on its way out.
            if _is_token_limit(error):
                raise self._too_many_tokens() from None
            raise

    def _too_many_tokens(self) -> QueryTooComplex:
        limits = self._limits()
        # Counted up to twice the limit: enough to say by how much, without lexing megabytes for it.
        measured = _count_tokens(self.execution_context.query or "", 2 * limits.max_tokens)
        return _refuse(
            "tokens",
            "The document's token count (counted up to twice the limit)",
            measured,
            limits.max_tokens,
            "Send a smaller document.",
        )

    def on_parse(self) -> Iterator[None]:
        yield
        limits = self._limits()
        context = self.execution_context
        if context.graphql_document is None:
            if any(_is_token_limit(e) for e in context.pre_execution_errors or ()):
                raise self._too_many_tokens()
            return
        directives = count_directives(context.graphql_document)
        _within(
            "directivesPerLocation",
            "The number of directives on one field (or fragment, operation or variable)",
            directives.most_in_one_place,
            limits.max_directives_per_location,
            "Write each directive once where it applies.",
        )
        _within(
            "directives",
            "The number of directives in this document",
            directives.total,
            limits.max_directives,
            "Send fewer @include/@skip directives (one on a fragment covers all of its fields).",
        )
        try:
            figures = measure(
                context.schema._schema,
                self.prices,
                context.graphql_document,
                operation_name=context.operation_name,
                variables=context.variables,
                max_fragment_nesting=limits.max_fragment_nesting,
                max_depth=limits.max_depth,
                max_list_size=MAX_PAGE_SIZE,
            )
        except FragmentProblem as exc:
            COST_REFUSALS.labels("fragments").inc()
            raise QueryTooComplex(
                f"{exc}.", limit="fragments", measured=exc.nesting, maximum=limits.max_fragment_nesting
            ) from None
        _within(
            "depth",
            "The depth of this document (fields within fields, fragments expanded)",
            figures.depth,
            limits.max_depth,
            "Ask for fewer levels at once.",
        )
        _within("aliases", "The number of aliases", figures.aliases, limits.max_aliases, "Send fewer aliased fields.")
        _within(
            "cost",
            "The cost of this document (@cost/@listSize, as a router computes it)",
            figures.cost,
            limits.max_cost,
            "Lists multiply what they contain (their `first`, else their @listSize): ask for smaller pages "
            "or fewer nested lists.",
        )
        self.cost = figures.cost
        if hasattr(context.context, "cost"):
            context.context.cost = figures.cost  # charged by schema.core.pipeline, kept for the cached path


def limits_extension(schema_factory: Callable[[], GraphQLSchema]) -> Callable[[], QueryLimits]:
    """A factory for :class:`QueryLimits` whose price table is read once, on first use, from the schema."""
    prices: dict[tuple[str, str], FieldPrice] = {}

    def make() -> QueryLimits:
        if not prices:
            prices.update(price_table(schema_factory()))
        return QueryLimits(prices)

    return make


__all__ = ["COST_REFUSALS", "QueryLimits", "limits_extension"]
