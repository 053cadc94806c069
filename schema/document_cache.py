"""Parse and validate each distinct document once per process, not on every request.

Validation of an unchanged document was about a third of a lookup's CPU. Strawberry's ``ParserCache`` and
``ValidationCache`` keep bounded LRU caches keyed by the document text (parse) and by (schema, parsed
document, validation rules) (validation). The last part matters: ``QueryDepthLimiter`` and
``MaxAliasesLimiter`` build a new rule class per instance, so a limiter created per request by a factory
makes a new key every time and the validation cache never hits. :class:`ShapeLimits` therefore builds the
depth and alias rules once, when this module is imported, and adds the same classes to every request.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from graphql import ASTValidationRule
from strawberry.extensions import (
    AddValidationRules,
    MaxAliasesLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)

from schema.limits import MAX_ALIASES, MAX_QUERY_DEPTH

#: Distinct documents whose parse and validation results are kept (bounded: unique documents evict).
DOCUMENT_CACHE_SIZE = 1024


def limit_rules(max_depth: int, max_aliases: int) -> tuple[type[ASTValidationRule], ...]:
    """The depth and alias rules, as classes built once (the limiters are only used to build them)."""
    return (
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    )


class ShapeLimits(AddValidationRules):
    """Depth and alias limits with rule classes that are the same object on every request."""

    rules: ClassVar[tuple[type[ASTValidationRule], ...]] = limit_rules(MAX_QUERY_DEPTH, MAX_ALIASES)

    def __init__(self) -> None:
        super().__init__(list(self.rules))


def _enabled(extension: ParserCache | ValidationCache) -> bool:
    """Off only when the server's settings say so (``JAMSOS_DOCUMENT_CACHE=false``, to measure the cache)."""
    return bool(getattr(extension.execution_context.context, "document_cache", True))


class DocumentParseCache(ParserCache):
    """Strawberry's ParserCache (bounded LRU keyed by the document text), switchable per server."""

    def __init__(self) -> None:
        super().__init__(maxsize=DOCUMENT_CACHE_SIZE)

    def on_parse(self) -> Iterator[None]:
        if _enabled(self):
            yield from super().on_parse()
        else:
            yield


class DocumentValidationCache(ValidationCache):
    """Strawberry's ValidationCache (bounded LRU keyed by schema, document and rules), switchable per server."""

    def __init__(self) -> None:
        super().__init__(maxsize=DOCUMENT_CACHE_SIZE)

    def on_validate(self) -> Iterator[None]:
        if _enabled(self):
            yield from super().on_validate()
        else:
            yield
